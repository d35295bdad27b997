//! Registering and logging in. Password hashing is slow on purpose, so it
//! runs on the blocking pool, never on the async workers.

use super::Shop;
use crate::application::error::{AppError, AppResult};
use crate::domain::account::parse_registration;
use crate::domain::field_errors::FieldErrors;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;

#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user_id: String,
    pub email: String,
}

/// Accounts are keyed by the lower-cased email.
pub(crate) fn account_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn register(
    shop: &Shop,
    email: &str,
    password: &str,
    confirmation: &str,
) -> AppResult<Result<LoggedIn, FieldErrors>> {
    let registration = match parse_registration(email, password, confirmation) {
        Ok(r) => r,
        Err(errors) => return Ok(Err(errors)),
    };
    let email = account_email(registration.email.as_str());
    let hash = hash_password(registration.password).await?;
    match shop.store.create_user(&email, &hash).await? {
        Some(user_id) => Ok(Ok(LoggedIn { user_id, email })),
        None => {
            let mut errors = FieldErrors::default();
            errors.add(
                "email",
                "An account with this email address exists already. Please log in.",
            );
            Ok(Err(errors))
        }
    }
}

/// `None` when the email or password is wrong (the page does not say which).
pub async fn login(shop: &Shop, email: &str, password: &str) -> AppResult<Option<LoggedIn>> {
    let email = account_email(email);
    let user = shop.store.user_by_email(&email).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(password.to_owned(), stored).await?;
    Ok(match (user, ok) {
        (Some(user), true) => Some(LoggedIn {
            user_id: user.id,
            email: user.email,
        }),
        _ => None,
    })
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))
}

pub(crate) async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(AppError::Internal)
}

/// Without a stored hash the password is checked against a throwaway one,
/// so an unknown email takes as long as a wrong password.
pub(crate) async fn verify_password(password: String, stored: Option<String>) -> AppResult<bool> {
    static THROWAWAY: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = match stored {
            Some(hash) => hash,
            None => THROWAWAY
                .get_or_init(|| hash_blocking(&crate::ids::random_token()).unwrap_or_default())
                .clone(),
        };
        let matches = PasswordHash::new(&stored)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}
