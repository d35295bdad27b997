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
    /// The password this login was made with, as `login_stamp` gives it.
    pub stamp: String,
}

/// What a login remembers of the account's password: a new password ends
/// every login made with the old one. Taken from the stored hash (salted,
/// so the same password set again is a new stamp too), and short: it is
/// neither the hash nor enough of it to check a password against.
pub fn login_stamp(password_hash: &str) -> String {
    let mut stamp = super::sha256_hex(password_hash.as_bytes());
    stamp.truncate(16);
    stamp
}

/// Whether a login with `stamp` still stands: the account is there and its
/// password is the one the login was made with.
pub async fn login_stands(shop: &Shop, user_id: &str, stamp: &str) -> AppResult<bool> {
    let hash = shop.store.user_password_hash(user_id).await?;
    Ok(hash.is_some_and(|hash| {
        subtle::ConstantTimeEq::ct_eq(login_stamp(&hash).as_bytes(), stamp.as_bytes()).into()
    }))
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
        Some(user_id) => Ok(Ok(LoggedIn {
            user_id,
            email,
            stamp: login_stamp(&hash),
        })),
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
            stamp: login_stamp(&user.password_hash),
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

#[cfg(test)]
mod tests {
    use super::login_stamp;

    #[test]
    fn a_stamp_is_short_and_changes_with_the_hash() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
        assert_eq!(login_stamp(hash), login_stamp(hash));
        assert_eq!(login_stamp(hash).len(), 16);
        assert!(!hash.contains(&login_stamp(hash)));
        assert_ne!(
            login_stamp(hash),
            login_stamp(&hash.replace("c2Fs", "c2Fm"))
        );
    }
}
