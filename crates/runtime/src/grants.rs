//! What a plugin may reach: the endpoints it declares (filled in from the
//! operator's config) intersected with the endpoints the operator granted.

use super::addr::{Reserved, reserved};
use super::bindings::Permissions;
use super::error::Denial;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// A host, optionally with a port. `*.example.com` matches any subdomain of
/// `example.com`; without a port, any port matches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// A lower-case name, a `*.` wildcard or an IP literal.
    pub host: String,
    /// The port, if fixed.
    pub port: Option<u16>,
}

impl Endpoint {
    /// Parses `host`, `host:port`, `[ipv6]:port`, `*.domain` or a URL
    /// (`https://host[:port]/…`, which gives the scheme's default port).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (rest, default_port) = match text.split_once("://") {
            Some(("https", rest)) => (rest, Some(443)),
            Some(("http", rest)) => (rest, Some(80)),
            Some((scheme, _)) => {
                return Err(format!("`{text}`: only http and https URLs are endpoints, not `{scheme}`"));
            }
            None => (text, None),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) =
            split_host_port(authority).ok_or_else(|| format!("`{text}` is not a host, host:port or URL"))?;
        let host = host.to_ascii_lowercase();
        let valid = !host.is_empty()
            && host
                .trim_start_matches("*.")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if !valid {
            return Err(format!("`{text}` has no valid host name"));
        }
        Ok(Self { host, port: port.or(default_port) })
    }

    /// The address, when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// Whether a request to `host:port` falls under this endpoint.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host[..host.len() - domain.len()].ends_with('.')
            }
            None => self.host.eq_ignore_ascii_case(host) || self.ip().is_some_and(|ip| host.parse() == Ok(ip)),
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ip(), self.port) {
            (Some(IpAddr::V6(ip)), Some(port)) => write!(f, "[{ip}]:{port}"),
            (_, Some(port)) => write!(f, "{}:{port}", self.host),
            (_, None) => f.write_str(&self.host),
        }
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or a bare IPv6 literal.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Some((authority, None)),
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// The endpoints an operator granted to one plugin, for HTTP and TCP alike.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Each granted endpoint.
    pub endpoints: Vec<Endpoint>,
    /// Fixed addresses for names, like curl's `--resolve`: the name is not
    /// looked up, but the address is still checked.
    pub resolve: BTreeMap<String, IpAddr>,
    /// Certificates of the CAs that issued the servers' certificates,
    /// trusted besides the public roots (for TLS over TCP and HTTPS alike).
    pub ca: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// The network policy of one call.
#[derive(Debug, Default)]
pub(crate) struct Policy {
    http_declared: Vec<Endpoint>,
    tcp_declared: Vec<Endpoint>,
    grants: Grants,
}

impl Policy {
    /// Fills the declared permission templates in from the config.
    pub(crate) fn new(
        declared: &Permissions,
        config: &BTreeMap<String, String>,
        grants: Grants,
    ) -> Result<Self, String> {
        let render_all = |templates: &[String]| -> Result<Vec<Endpoint>, String> {
            templates.iter().map(|t| Endpoint::parse(&render(t, config)?)).collect()
        };
        let tcp_declared = render_all(&declared.tcp)?;
        if let Some(e) = tcp_declared.iter().find(|e| e.port.is_none()) {
            return Err(format!("the plugin declares TCP access to `{e}` without a port"));
        }
        Ok(Self { http_declared: render_all(&declared.http_hosts)?, tcp_declared, grants })
    }

    /// The grant that lets the plugin send HTTP to `host:port`, or why not.
    pub(crate) fn http_grant(&self, host: &str, port: u16) -> Result<&Endpoint, Denial> {
        grant_for(&self.http_declared, &self.grants.endpoints, host, port)
    }

    /// The addresses `host:port` resolves to, refused if any of them is
    /// one that `grant` does not reach.
    pub(crate) async fn resolve(&self, grant: &Endpoint, host: &str, port: u16) -> Result<Vec<SocketAddr>, Denial> {
        let target = format!("{host}:{port}");
        let addrs: Vec<SocketAddr> =
            if let Some(ip) = self.grants.resolve.get(host).copied().or_else(|| host.parse().ok()) {
                vec![SocketAddr::new(ip, port)]
            } else {
                tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| Denial::Unresolved { target: target.clone(), reason: e.to_string() })?
                    .collect()
            };
        if addrs.is_empty() {
            return Err(Denial::Unresolved { target, reason: "no addresses".into() });
        }
        for addr in &addrs {
            check_address(grant, &target, addr.ip())?;
        }
        Ok(addrs)
    }

    /// The CAs trusted besides the public roots.
    pub(crate) fn ca(&self) -> &[rustls::pki_types::CertificateDer<'static>] {
        &self.grants.ca
    }

    /// Whether the plugin may verify the server at `address` as `name`: its
    /// own address, or a name the operator granted for that port. Any other
    /// name would let a plugin claim whatever identity a server it reaches
    /// happens to hold a certificate for.
    pub(crate) fn tls_name(&self, name: &str, address: SocketAddr) -> Result<(), Denial> {
        let own_address = name.parse::<IpAddr>().is_ok_and(|ip| ip == address.ip());
        let granted = self.grants.endpoints.iter().any(|g| g.matches(&name.to_ascii_lowercase(), address.port()));
        if own_address || granted {
            return Ok(());
        }
        Err(Denial::TlsName { name: name.to_string(), address, port: address.port() })
    }

    /// Every TCP address the plugin may connect to: each declared `host:port`
    /// that is granted, resolved and checked.
    pub(crate) async fn tcp_addresses(&self) -> Result<Vec<SocketAddr>, Denial> {
        let mut allowed = Vec::new();
        for declared in &self.tcp_declared {
            let port = declared.port.unwrap_or_default();
            if let Ok(grant) = grant_for(&self.tcp_declared, &self.grants.endpoints, &declared.host, port) {
                allowed.extend(self.resolve(grant, &declared.host, port).await?);
            }
        }
        Ok(allowed)
    }
}

fn grant_for<'a>(
    declared: &[Endpoint],
    granted: &'a [Endpoint],
    host: &str,
    port: u16,
) -> Result<&'a Endpoint, Denial> {
    let target = format!("{host}:{port}");
    if !declared.iter().any(|d| d.matches(host, port)) {
        let declared = declared.iter().map(ToString::to_string).collect::<Vec<_>>();
        let declared = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
        return Err(Denial::Undeclared { target, declared });
    }
    granted.iter().find(|g| g.matches(host, port)).ok_or_else(|| Denial::NotGranted {
        target,
        host: Endpoint { host: host.into(), port: Some(port) }.to_string(),
    })
}

/// A name reaches only public addresses; an address literal granted as such
/// reaches itself; metadata endpoints are never reached.
fn check_address(grant: &Endpoint, target: &str, ip: IpAddr) -> Result<(), Denial> {
    let Some(class) = reserved(ip) else { return Ok(()) };
    let advice = match class {
        Reserved::Metadata => "cloud metadata endpoints are never reachable from plugins".to_string(),
        _ if grant.ip() == Some(ip) => return Ok(()),
        _ => format!(
            "a granted name only reaches public addresses; if this internal address is intended, grant it literally (`--grant {}`)",
            Endpoint { host: ip.to_string(), port: target.rsplit(':').next().and_then(|p| p.parse().ok()) }
        ),
    };
    Err(Denial::Reserved { target: target.to_string(), ip, class, advice })
}

/// Replaces each `{field}` with the config value of `field`.
fn render(template: &str, config: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end =
            rest[start..].find('}').ok_or_else(|| format!("permission `{template}` has an unclosed `{{`"))? + start;
        let name = &rest[start + 1..end];
        let value = config
            .get(name)
            .ok_or_else(|| format!("permission `{template}` needs the config field `{name}`, which is not set"))?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap()
    }

    #[test]
    fn endpoints_parse_from_hosts_addresses_and_urls() {
        assert_eq!(endpoint("API.example.com"), Endpoint { host: "api.example.com".into(), port: None });
        assert_eq!(endpoint("db:5432").port, Some(5432));
        assert_eq!(endpoint("https://api.example.com/v1?x=1").port, Some(443));
        assert_eq!(endpoint("http://127.0.0.1:8080/keys").to_string(), "127.0.0.1:8080");
        assert_eq!(endpoint("[::1]:6379").to_string(), "[::1]:6379");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("host:notaport").is_err());
        assert!(Endpoint::parse("bad host").is_err());
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let e = endpoint("*.example.com");
        assert!(e.matches("a.example.com", 443));
        assert!(!e.matches("example.com", 443));
        assert!(!e.matches("evilexample.com", 443));
    }

    #[test]
    fn templates_fill_in_from_config() {
        let config = BTreeMap::from([("host".to_string(), "db".to_string()), ("port".to_string(), "5432".to_string())]);
        assert_eq!(render("{host}:{port}", &config).unwrap(), "db:5432");
        assert!(render("{missing}", &config).unwrap_err().contains("`missing`"));
    }

    #[test]
    fn a_request_needs_both_declaration_and_grant() {
        let declared = Permissions { http_hosts: vec!["{url}".into()], tcp: vec![] };
        let config = BTreeMap::from([("url".to_string(), "https://api.example.com".to_string())]);
        let grants = Grants { endpoints: vec![endpoint("api.example.com")], ..Grants::default() };
        let policy = Policy::new(&declared, &config, grants).unwrap();
        assert!(policy.http_grant("api.example.com", 443).is_ok());
        assert!(matches!(policy.http_grant("api.example.com", 80), Err(Denial::Undeclared { .. })));
        assert!(matches!(policy.http_grant("evil.example", 443), Err(Denial::Undeclared { .. })));
        let ungranted = Policy::new(&declared, &config, Grants::default()).unwrap();
        assert!(matches!(ungranted.http_grant("api.example.com", 443), Err(Denial::NotGranted { .. })));
    }

    #[test]
    fn names_never_reach_internal_addresses_but_literal_grants_do() {
        let by_name = endpoint("internal.example");
        assert!(check_address(&by_name, "internal.example:80", "10.0.0.1".parse().unwrap()).is_err());
        assert!(check_address(&by_name, "internal.example:80", "93.184.216.34".parse().unwrap()).is_ok());
        let literal = endpoint("10.0.0.1:80");
        assert!(check_address(&literal, "10.0.0.1:80", "10.0.0.1".parse().unwrap()).is_ok());
        let metadata = endpoint("169.254.169.254");
        assert!(check_address(&metadata, "169.254.169.254:80", "169.254.169.254".parse().unwrap()).is_err());
    }
}
