//! The account and password a credential carries. Providers whose secret
//! may be a connection URI (`postgresql://role:password@host/db`) read them
//! back in `verify` and `revoke`, for keys they made and keys imported by
//! hand alike.

use crate::Credential;

/// The user and password of a connection URI (`scheme://user:password@…`),
/// if the secret is one.
pub fn uri_login(secret: &str) -> Option<(&str, &str)> {
    let (_, rest) = secret.split_once("://")?;
    let (login, _) = rest.split_once('@')?;
    login.split_once(':')
}

/// The password in a secret: the URI's, or the secret itself.
pub fn password(secret: &str) -> &str {
    uri_login(secret).map_or(secret, |(_, password)| password)
}

/// The account a credential belongs to: its attribute `attribute` (as
/// `generate` wrote it), else the user its URI names (a key imported by
/// hand), else `fallback` (the config's one account), else its key id up
/// to `#`.
pub fn account<'c>(credential: &'c Credential, attribute: &str, fallback: Option<&'c str>) -> &'c str {
    credential
        .attributes
        .iter()
        .find(|p| p.key == attribute)
        .map(|p| p.value.as_str())
        .or_else(|| uri_login(&credential.secret).map(|(user, _)| user))
        .or(fallback)
        .unwrap_or_else(|| credential.key_id.split('#').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_carries_its_login_and_a_plain_secret_is_the_password() {
        assert_eq!(uri_login("mysql://app_blue:s3cret@127.0.0.1:3306/"), Some(("app_blue", "s3cret")));
        assert_eq!(password("amqp://u:p@h:5672/%2F"), "p");
        assert_eq!(password("plain-password"), "plain-password");
        let imported = Credential {
            key_id: "first".into(),
            secret: "postgresql://r:p@h/db".into(),
            attributes: vec![],
            expires_at: None,
        };
        assert_eq!(account(&imported, "role", None), "r");
        let plain = Credential { key_id: "app#1f".into(), secret: "p".into(), attributes: vec![], expires_at: None };
        assert_eq!(account(&plain, "user", Some("app")), "app");
        assert_eq!(account(&plain, "user", None), "app");
    }
}
