//! Every POST carries the session's CSRF token in a hidden field. This
//! extractor checks it before the form reaches a handler. The back office
//! checks its own forms against the staff session's token with the same
//! pieces (`web/admin/session.rs`).

use crate::application::secrets_match;
use crate::web::error::PageError;
use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// A urlencoded form whose CSRF token matched the session's.
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

/// Why a form body could not be read.
pub(super) fn body_error(e: actix_web::Error) -> PageError {
    if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::TooLarge
    } else {
        PageError::BadRequest(format!("form body: {e}"))
    }
}

/// The form in `body`, if its `csrf_token` matches `expected` (compared in
/// constant time); a form without a token to expect is refused.
pub(super) fn checked_form<T: DeserializeOwned>(
    body: &[u8],
    expected: Option<&str>,
) -> Result<T, PageError> {
    let body = super::nul::replaced_in_form(body);
    let sent: TokenOnly = serde_urlencoded::from_bytes(&body)
        .map_err(|e| PageError::BadRequest(format!("form: {e}")))?;
    match expected {
        Some(expected) if secrets_match(expected, &sent.csrf_token) => {}
        _ => return Err(PageError::Csrf),
    }
    serde_urlencoded::from_bytes(&body).map_err(|e| PageError::BadRequest(format!("form: {e}")))
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let body = body.await.map_err(body_error)?;
            let expected: Option<String> = session.get(super::session::CSRF_KEY).ok().flatten();
            checked_form(&body, expected.as_deref()).map(CsrfForm)
        })
    }
}

/// A POST with nothing but the token.
#[derive(Deserialize)]
pub struct NoFields {}
