//! OAuth 2.0 token endpoints (RFC 6749 §5), which cloud providers sign an
//! admin in at before any call: a form posted, an access token back, or an
//! error whose `error_description` says why.

use crate::ProviderError;
use crate::http::Request;

/// Posts `form` (already `application/x-www-form-urlencoded`) to the token
/// endpoint `url`: the access token, or the endpoint's refusal of the
/// credentials (`Ok(Err(reason))`, for a 400 or 401), which callers turn
/// into an unauthorized admin or an invalid key.
pub fn token(url: &str, form: String) -> Result<Result<String, String>, ProviderError> {
    let response = Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form)
        .send_any_status()?;
    if matches!(response.status(), 400 | 401) {
        let refusal: serde_json::Value = response.json().unwrap_or_default();
        let reason = refusal["error_description"].as_str().or(refusal["error"].as_str()).unwrap_or("refused");
        return Ok(Err(format!("the token endpoint refused it: {reason}")));
    }
    let answer = response.expect_json("the token endpoint")?;
    let token = answer["access_token"].as_str().map(String::from);
    token.map(Ok).ok_or_else(|| ProviderError::Rejected("the token endpoint answered no access_token".into()))
}
