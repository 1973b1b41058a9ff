//! Conversions into the contract's `provider-error`, so plugins can use `?`.

use crate::ProviderError;

impl ProviderError {
    /// The message carried by any variant.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidConfig(m)
            | Self::Unauthorized(m)
            | Self::NotFound(m)
            | Self::Unavailable(m)
            | Self::Rejected(m) => m,
            Self::RateLimited(limit) => &limit.message,
        }
    }
}

impl From<serde_json::Error> for ProviderError {
    fn from(error: serde_json::Error) -> Self {
        Self::Rejected(format!("the provider sent JSON that could not be read: {error}"))
    }
}

impl From<wasip2::io::streams::StreamError> for ProviderError {
    fn from(error: wasip2::io::streams::StreamError) -> Self {
        match error {
            wasip2::io::streams::StreamError::Closed => Self::Unavailable("the connection closed early".into()),
            wasip2::io::streams::StreamError::LastOperationFailed(e) => {
                Self::Unavailable(format!("network I/O failed: {}", e.to_debug_string()))
            }
        }
    }
}
