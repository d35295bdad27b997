//! The JSON API for integrators at `/api/v1`. Every handler takes an
//! `ApiCaller` (a live API key in `Authorization: Bearer`), or for a POST
//! an `ApiPost` (the caller, an `Idempotency-Key` and the body), whose use
//! case wraps its work in `application::idempotency::once`; `answer` turns
//! the outcome into the response. Errors are JSON: `{"error": "..."}`.

pub mod auth;
pub mod connectivity;
pub mod orders;

use crate::application::AppError;
use crate::application::idempotency::{Idempotent, StoredAnswer};
use crate::web::error::PageError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError, web};
use std::fmt;

/// An API error: its status and a message for the integrator.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"kassa\""));
        }
        if self.status == StatusCode::CONFLICT {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "error": self.message }))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        PageError::from(e).into()
    }
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        let status = e.status_code();
        let message = match &e {
            PageError::NotFound => "not found".to_owned(),
            PageError::BadRequest(detail) => detail.clone(),
            PageError::TooLarge => "the body is larger than the API accepts".to_owned(),
            PageError::Unavailable(_) => {
                tracing::warn!(error = %e, "API unavailable");
                "temporarily unavailable; retry later".to_owned()
            }
            PageError::Internal(error) => {
                tracing::error!(error = ?error, "API request failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        Self::new(status, message)
    }
}

/// The response to an idempotent POST: the answer (a repeat's marked with
/// `Idempotent-Replayed: true`), or why it was not run.
pub fn answer(outcome: Idempotent) -> Result<HttpResponse, ApiError> {
    let (stored, replayed) = match outcome {
        Idempotent::Ran(stored) => (stored, false),
        Idempotent::Replayed(stored) => (stored, true),
        Idempotent::KeyReused => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used for another request; use a new key for a new request",
            ));
        }
        Idempotent::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is in progress; retry later",
            ));
        }
    };
    let StoredAnswer { status, json } = stored;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            "Idempotent-Replayed",
            if replayed { "true" } else { "false" },
        ))
        .body(json))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "no such API endpoint"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .configure(connectivity::routes)
            .configure(orders::routes)
            .default_service(web::to(not_found)),
    );
}
