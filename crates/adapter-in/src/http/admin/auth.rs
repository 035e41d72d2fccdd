//! `X-Admin-Token`: compared in constant time against the configured token (SPEC §5.6).
//!
//! Both sides are hashed with SHA-256 first and the digests compared with `subtle`, so neither
//! the content nor the length of the expected token shows in the comparison's timing. Without
//! a configured token every admin call answers 401 UNAUTHORIZED.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hub_application::ErrorCode;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ADMIN_ACTOR;
use crate::http::HttpState;
use crate::http::error::ApiError;

/// The header operators send.
pub(crate) const ADMIN_TOKEN_HEADER: &str = "x-admin-token";

/// Who made an admin call, as recorded in the audit trail (a request extension set by
/// [`require_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Actor(pub(crate) &'static str);

/// The expected token, kept only as its SHA-256 digest.
#[derive(Clone)]
pub(crate) struct TokenCheck {
    expected: Option<[u8; 32]>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck").field("configured", &self.expected.is_some()).finish()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl TokenCheck {
    /// A check against `token` (`None` or blank: nothing is accepted).
    pub(crate) fn new(token: Option<&SecretString>) -> Self {
        let expected =
            token.map(|t| t.expose_secret().trim()).filter(|t| !t.is_empty()).map(|t| digest(t.as_bytes()));
        TokenCheck { expected }
    }

    /// Whether `presented` is the configured token (constant time over the digests).
    pub(crate) fn accepts(&self, presented: &[u8]) -> bool {
        match &self.expected {
            Some(expected) => bool::from(digest(presented).ct_eq(expected)),
            None => false,
        }
    }

    /// Whether a token is configured at all.
    pub(crate) fn is_configured(&self) -> bool {
        self.expected.is_some()
    }
}

/// Middleware: lets the request through with an [`Actor`] only when `X-Admin-Token` matches.
pub(crate) async fn require_token(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let check = &state.admin().token;
    let mut values = request.headers().get_all(ADMIN_TOKEN_HEADER).iter();
    let presented = values.next();
    let repeated = values.next().is_some();
    let accepted = match presented {
        Some(value) if !repeated => check.accepts(value.as_bytes()),
        _ => false,
    };
    if !accepted {
        let detail = if !check.is_configured() {
            "the admin API is disabled: no admin token is configured (NH_ADMIN_TOKEN)"
        } else if presented.is_none() {
            "send the admin token in the X-Admin-Token header"
        } else {
            "the X-Admin-Token header is not valid"
        };
        return ApiError::new(ErrorCode::Unauthorized, detail).into_response();
    }
    request.extensions_mut().insert(Actor(ADMIN_ACTOR));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_is_accepted() {
        let check = TokenCheck::new(Some(&SecretString::from("s3cret-token")));
        assert!(check.accepts(b"s3cret-token"));
        assert!(!check.accepts(b"s3cret-toke"));
        assert!(!check.accepts(b"s3cret-token "));
        assert!(!check.accepts(b""));
    }

    #[test]
    fn without_a_token_nothing_is_accepted() {
        for check in [TokenCheck::new(None), TokenCheck::new(Some(&SecretString::from("  ")))] {
            assert!(!check.is_configured());
            assert!(!check.accepts(b""));
            assert!(!check.accepts(b"  "));
        }
    }

    #[test]
    fn debug_output_does_not_show_the_token() {
        let check = TokenCheck::new(Some(&SecretString::from("s3cret-token")));
        assert!(!format!("{check:?}").contains("s3cret"));
    }
}
