//! What a use case reports when it cannot do its work. Refusals a shopper
//! or staff member can act on are not errors: they are typed outcomes of
//! the use case. `web` maps these to HTTP answers.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What was asked for does not exist (or is not this caller's).
    #[error("not found")]
    NotFound,
    /// A resource is exhausted or an outside service is down; try again.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(message) => Self::Unavailable(message),
            other => Self::Internal(other.into()),
        }
    }
}
