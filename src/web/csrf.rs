//! Every POST carries the session's CSRF token in a hidden field. This
//! extractor checks it before the form reaches a handler.

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

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let body = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    PageError::TooLarge
                } else {
                    PageError::BadRequest(format!("form body: {e}"))
                }
            })?;
            let body = super::nul::replaced_in_form(&body);
            let sent: TokenOnly = serde_urlencoded::from_bytes(&body)
                .map_err(|e| PageError::BadRequest(format!("form: {e}")))?;
            let expected: Option<String> = session.get(super::session::CSRF_KEY).ok().flatten();
            match expected {
                Some(expected) if secrets_match(&expected, &sent.csrf_token) => {}
                _ => return Err(PageError::Csrf),
            }
            serde_urlencoded::from_bytes(&body)
                .map(CsrfForm)
                .map_err(|e| PageError::BadRequest(format!("form: {e}")))
        })
    }
}

/// A POST with nothing but the token.
#[derive(Deserialize)]
pub struct NoFields {}
