//! What a page answers when a request fails: each variant has its status
//! and a message that is safe to show. Unexpected errors are logged with
//! their cause chain and shown as a plain apology. A use case's `PageError`
//! becomes one of these here, so HTTP stays in `web`.

use crate::application::AppError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("the form was sent without a valid security token")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The body is over the size limit.
    #[error("the request body is too large")]
    TooLarge,
    /// What the request would keep in the session does not fit there.
    #[error("the session state would be too large")]
    SessionFull,
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type PageResult<T> = Result<T, PageError>;

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => Self::NotFound,
            AppError::Unavailable(message) => Self::Unavailable(message),
            AppError::Internal(error) => Self::Internal(error),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// For the shopper to quote: it finds this request's log lines.
    request_id: Option<String>,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) | Self::SessionFull => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            Self::NotFound => ("Not found", "There is nothing at this address."),
            Self::Csrf => (
                "Please try again",
                "Your session has expired or the form was sent from another page. Please go back, reload the page and send it again.",
            ),
            Self::BadRequest(_) => ("Bad request", "The request could not be understood."),
            Self::TooLarge => (
                "Too much to send",
                "The form was larger than the shop accepts. Please go back, shorten what you typed and send it again.",
            ),
            Self::SessionFull => (
                "Please try again",
                "This request would not fit into your session. Please go back and try again; your cart is kept.",
            ),
            Self::Unavailable(message) => {
                tracing::warn!(%message, "service unavailable");
                (
                    "Temporarily unavailable",
                    "The shop is very busy right now. Please try again in a moment; your cart is kept.",
                )
            }
            Self::Internal(error) => {
                tracing::error!(error = ?error, "request failed");
                (
                    "Something went wrong",
                    "We could not complete your request. Your cart is kept; please try again.",
                )
            }
        };
        let body = ErrorPage {
            title,
            message,
            request_id: crate::web::request_id::current(),
        }
        .render()
        .unwrap_or_else(|_| message.to_owned());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
