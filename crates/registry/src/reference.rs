//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`: where a plugin is
//! published, as `plugin install`, `publish` and `rekey.lock` write it.

use super::RegistryError;
use oci_client::Reference;
use std::fmt;

/// A plugin's place in a registry: a tag, a digest, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub(crate) reference: Reference,
}

const SCHEME: &str = "oci://";

impl Source {
    /// Parses `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`; with
    /// neither a tag nor a digest it is refused, as "latest" pins nothing.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let refuse = |reason: &str| RegistryError::Reference { reference: text.into(), reason: reason.into() };
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| refuse("it must start with oci://"))?;
        if !rest.split('/').next().is_some_and(|registry| registry.contains(['.', ':']) || registry == "localhost") {
            return Err(refuse("it must name the registry (a host, with a dot or a port) before the repository"));
        }
        let reference: Reference = rest.parse().map_err(|e: oci_client::ParseError| refuse(&e.to_string()))?;
        let tagged = reference.tag().is_some() && rest.rsplit('/').next().is_some_and(|last| last.contains(':'));
        if !tagged && reference.digest().is_none() {
            return Err(refuse("it names no tag and no digest"));
        }
        if reference.digest().is_some_and(|d| !d.starts_with("sha256:") || d.len() != 71) {
            return Err(refuse("its digest must be sha256: and 64 hex digits"));
        }
        Ok(Self { reference })
    }

    /// The registry (`HOST[:PORT]`).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// `oci://REGISTRY/REPOSITORY`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{SCHEME}{}/{}", self.registry(), self.reference.repository())
    }

    /// The tag, if the reference names one.
    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    /// The manifest digest, if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// The same repository, at `tag`.
    pub fn with_tag(&self, tag: &str) -> Self {
        let reference = Reference::with_tag(self.registry().into(), self.reference.repository().into(), tag.into());
        Self { reference }
    }

    /// The same repository and tag, pinned to `digest`.
    pub fn pinned(&self, digest: &str) -> Self {
        let reference = match self.tag() {
            Some(tag) => Reference::with_tag_and_digest(
                self.registry().into(),
                self.reference.repository().into(),
                tag.into(),
                digest.into(),
            ),
            None => Reference::with_digest(self.registry().into(), self.reference.repository().into(), digest.into()),
        };
        Self { reference }
    }

    /// Whether plain HTTP is allowed: only to a registry on loopback.
    pub(crate) fn on_loopback(&self) -> bool {
        let host = self.registry().rsplit_once(':').map_or(self.registry(), |(host, _)| host);
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(tag) = self.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest() {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_reference_names_its_registry_and_a_tag_or_a_digest() {
        let source = Source::parse("oci://127.0.0.1:5000/rekey/random:0.1.0").unwrap();
        assert_eq!((source.registry(), source.tag(), source.digest()), ("127.0.0.1:5000", Some("0.1.0"), None));
        assert!(source.on_loopback());
        let pinned = Source::parse(&format!("oci://ghcr.io/acme/keys@{DIGEST}")).unwrap();
        assert_eq!((pinned.tag(), pinned.digest()), (None, Some(DIGEST)));
        assert_eq!(pinned.to_string(), format!("oci://ghcr.io/acme/keys@{DIGEST}"));
        assert_eq!(source.pinned(DIGEST).to_string(), format!("oci://127.0.0.1:5000/rekey/random:0.1.0@{DIGEST}"));
        assert_eq!(source.repository(), "oci://127.0.0.1:5000/rekey/random");
        assert!(!pinned.on_loopback());
    }

    #[test]
    fn a_reference_that_pins_nothing_or_names_no_registry_is_refused() {
        for (text, why) in [
            ("ghcr.io/acme/keys:1", "oci://"),
            ("oci://ghcr.io/acme/keys", "no tag and no digest"),
            ("oci://acme/keys:1", "name the registry"),
            ("oci://ghcr.io/acme/keys@sha256:abc", "invalid reference"),
        ] {
            let error = Source::parse(text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
