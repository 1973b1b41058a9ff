//! Registry credentials: `REKEY_REGISTRY_USERNAME` and
//! `REKEY_REGISTRY_PASSWORD`, else the Docker config file (`docker login`,
//! credential helpers included), else anonymous. Never from argv.

use super::RegistryError;
use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// The credentials to use with `registry`.
pub(crate) fn credentials(registry: &str) -> Result<RegistryAuth, RegistryError> {
    if let (Ok(user), Ok(password)) =
        (std::env::var("REKEY_REGISTRY_USERNAME"), std::env::var("REKEY_REGISTRY_PASSWORD"))
    {
        return Ok(RegistryAuth::Basic(user, password));
    }
    match docker_credential::get_credential(registry) {
        Ok(DockerCredential::UsernamePassword(user, password)) => Ok(RegistryAuth::Basic(user, password)),
        Ok(DockerCredential::IdentityToken(token)) => Ok(RegistryAuth::Bearer(token)),
        Err(CredentialRetrievalError::ConfigNotFound | CredentialRetrievalError::NoCredentialConfigured) => {
            Ok(RegistryAuth::Anonymous)
        }
        // The crate cannot tell a missing file from an unreadable one.
        Err(CredentialRetrievalError::ConfigReadError) if !docker_config().is_some_and(|path| path.exists()) => {
            Ok(RegistryAuth::Anonymous)
        }
        Err(e) => Err(RegistryError::Credentials { registry: registry.into(), reason: e.to_string() }),
    }
}

/// The Docker config file: `$DOCKER_CONFIG/config.json`, or
/// `~/.docker/config.json`.
fn docker_config() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".docker")))?;
    Some(dir.join("config.json"))
}
