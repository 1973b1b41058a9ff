//! The Wasm component artifact (what wkg pushes and pulls) and the
//! signature beside it: push, pull with every digest checked, the tags of
//! a repository.

use super::auth::credentials;
use super::{RegistryError, Source, digest};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use serde::{Deserialize, Serialize};

/// The config of a Wasm artifact, as wasm-pkg-tools reads it.
const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component itself.
const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// A minisign signature of the component's bytes (the `.minisig` text).
const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.rekey.minisign.signature.v1";
/// The empty config of the signature's manifest (OCI image spec 1.1).
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// What a component imports and exports, which the artifact's config lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// The WIT world the component targets, when known.
    pub target: Option<String>,
}

/// The config wasm-pkg-tools writes and reads (`oci-wasm`'s `WasmConfig`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig {
    created: String,
    author: Option<String>,
    architecture: String,
    os: String,
    layer_digests: Vec<String>,
    component: Option<Component>,
}

/// A component pulled from a registry, every digest checked.
pub struct Pulled {
    /// Where it came from, pinned to the manifest digest it had.
    pub source: Source,
    /// The component's bytes.
    pub component: Vec<u8>,
    /// The `.minisig` text published beside it, if any.
    pub signature: Option<String>,
}

/// A registry client for one reference's registry: HTTPS, or plain HTTP to
/// a registry on loopback (a local registry for tests and mirrors).
pub struct Client {
    oci: oci_client::Client,
    auth: RegistryAuth,
}

impl Client {
    /// A client for `source`'s registry, with its credentials.
    pub fn new(source: &Source) -> Result<Self, RegistryError> {
        // The host's TLS provider, as for every other connection it makes.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let protocol = if source.on_loopback() {
            ClientProtocol::HttpsExcept(vec![source.registry().to_string()])
        } else {
            ClientProtocol::Https
        };
        let oci = oci_client::Client::new(ClientConfig { protocol, ..ClientConfig::default() });
        Ok(Self { oci, auth: credentials(source.registry())? })
    }

    /// Pushes `component` (and its `.minisig`, if given) to `source`'s
    /// tag; returns the source pinned to the manifest the registry holds.
    pub async fn push(
        &self,
        source: &Source,
        component: &[u8],
        signature: Option<&str>,
        described: Component,
    ) -> Result<Source, RegistryError> {
        let fail = failure("push the component", source);
        let layer = ImageLayer::new(component.to_vec(), LAYER_MEDIA_TYPE.into(), None);
        let config = WasmConfig {
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            author: None,
            architecture: "wasm".into(),
            os: "wasip2".into(),
            layer_digests: vec![digest(component)],
            component: Some(described),
        };
        let config = Config::new(json(&config), CONFIG_MEDIA_TYPE.into(), None);
        let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.into());
        self.oci.push(&source.reference, &[layer], config, &self.auth, Some(manifest)).await.map_err(fail)?;
        let pinned = source.pinned(&self.resolve(source).await?);
        if let Some(signature) = signature {
            self.push_signature(&pinned, signature).await?;
        }
        Ok(pinned)
    }

    async fn push_signature(&self, pinned: &Source, signature: &str) -> Result<(), RegistryError> {
        let at = signature_source(pinned);
        let layer = ImageLayer::new(signature.as_bytes().to_vec(), SIGNATURE_MEDIA_TYPE.into(), None);
        let config = Config::new(b"{}".to_vec(), EMPTY_MEDIA_TYPE.into(), None);
        let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.into());
        self.oci
            .push(&at.reference, &[layer], config, &self.auth, Some(manifest))
            .await
            .map_err(failure("push the signature", &at))?;
        Ok(())
    }

    /// The digest of the manifest `source` names now, computed from its
    /// bytes (and checked against the digest it pins, if any).
    pub async fn resolve(&self, source: &Source) -> Result<String, RegistryError> {
        Ok(self.manifest(source).await?.1)
    }

    /// The manifest `source` names and its digest, computed from its bytes.
    async fn manifest(&self, source: &Source) -> Result<(OciImageManifest, String), RegistryError> {
        let (raw, _) = match self.oci.pull_manifest_raw(&source.reference, &self.auth, &[OCI_IMAGE_MEDIA_TYPE]).await {
            Ok(found) => found,
            Err(e) if unknown(&e) => return Err(RegistryError::NotFound { source_ref: source.to_string() }),
            Err(OciDistributionError::DigestError(e)) => {
                let expected = source.digest().unwrap_or_default().to_string();
                return Err(RegistryError::Digest {
                    source_ref: source.to_string(),
                    what: "manifest",
                    expected,
                    got: got(&e),
                });
            }
            Err(e) => return Err(failure("read the manifest", source)(e)),
        };
        let got = digest(&raw);
        if let Some(expected) = source.digest().filter(|expected| **expected != got) {
            return Err(RegistryError::Digest {
                source_ref: source.to_string(),
                what: "manifest",
                expected: expected.into(),
                got,
            });
        }
        let manifest = serde_json::from_slice(&raw).map_err(|e| RegistryError::Format {
            source_ref: source.to_string(),
            reason: format!("its manifest is not an OCI image manifest: {e}"),
        })?;
        Ok((manifest, got))
    }

    /// Pulls the component `source` names and the signature beside it.
    pub async fn pull(&self, source: &Source) -> Result<Pulled, RegistryError> {
        let (manifest, manifest_digest) = self.manifest(source).await?;
        let source = source.pinned(&manifest_digest);
        let not_wasm = |reason: String| RegistryError::Format { source_ref: source.to_string(), reason };
        if manifest.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(not_wasm(format!("its config is {}, not {CONFIG_MEDIA_TYPE}", manifest.config.media_type)));
        }
        let [layer] = manifest.layers.as_slice() else {
            return Err(not_wasm(format!("it has {} layers, not one", manifest.layers.len())));
        };
        if layer.media_type != LAYER_MEDIA_TYPE {
            return Err(not_wasm(format!("its layer is {}, not {LAYER_MEDIA_TYPE}", layer.media_type)));
        }
        let component = self.blob(&source, layer, "component").await?;
        let signature = self.signature(&source).await?;
        Ok(Pulled { source, component, signature })
    }

    /// A blob the manifest lists, its digest checked.
    async fn blob(
        &self,
        source: &Source,
        layer: &oci_client::manifest::OciDescriptor,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut bytes = Vec::new();
        match self.oci.pull_blob(&source.reference, layer, &mut bytes).await {
            Ok(()) => {}
            Err(OciDistributionError::DigestError(e)) => {
                let expected = layer.digest.clone();
                return Err(RegistryError::Digest { source_ref: source.to_string(), what, expected, got: got(&e) });
            }
            Err(e) => return Err(failure("read the component", source)(e)),
        }
        let got = digest(&bytes);
        if got != layer.digest {
            return Err(RegistryError::Digest {
                source_ref: source.to_string(),
                what,
                expected: layer.digest.clone(),
                got,
            });
        }
        Ok(bytes)
    }

    /// The `.minisig` published beside the manifest `pinned` names, if any.
    async fn signature(&self, pinned: &Source) -> Result<Option<String>, RegistryError> {
        let at = signature_source(pinned);
        let manifest = match self.manifest(&at).await {
            Ok((manifest, _)) => manifest,
            Err(RegistryError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let layer = manifest.layers.iter().find(|l| l.media_type == SIGNATURE_MEDIA_TYPE).ok_or_else(|| {
            RegistryError::Format {
                source_ref: at.to_string(),
                reason: format!("it holds no {SIGNATURE_MEDIA_TYPE} layer"),
            }
        })?;
        let bytes = self.blob(&at, layer, "signature").await?;
        String::from_utf8(bytes).map(Some).map_err(|_| RegistryError::Format {
            source_ref: at.to_string(),
            reason: "the signature is not text".into(),
        })
    }

    /// The repository's tags.
    pub async fn tags(&self, source: &Source) -> Result<Vec<String>, RegistryError> {
        let listed = self.oci.list_tags(&source.reference, &self.auth, None, None).await;
        Ok(listed.map_err(failure("list the tags", source))?.tags)
    }
}

/// Where the signature of the manifest `pinned` names is published:
/// the tag `sha256-<hex>.sig` of the same repository.
fn signature_source(pinned: &Source) -> Source {
    let hex = pinned.digest().and_then(|d| d.strip_prefix("sha256:")).unwrap_or_default();
    pinned.with_tag(&format!("sha256-{hex}.sig"))
}

/// The digest the bytes had, from the OCI client's report of a mismatch
/// ("… Expected sha256:A, got sha256:B").
fn got(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.rsplit_once("got ").map_or(text.clone(), |(_, got)| got.trim().to_string())
}

/// Whether the registry answered that it has no such manifest.
fn unknown(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| e.code == oci_client::errors::OciErrorCode::ManifestUnknown)
        }
        _ => false,
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("a config always serializes")
}

/// Maps an OCI client error to what rekey says of it.
fn failure(what: &'static str, source: &Source) -> impl Fn(OciDistributionError) -> RegistryError {
    let source_ref = source.to_string();
    move |e| RegistryError::Registry { what, source_ref: source_ref.clone(), cause: e.to_string() }
}
