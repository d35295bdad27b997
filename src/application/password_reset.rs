//! Setting a new password by mail. The link's token is the reset request's
//! id signed with the shop's link key: the mail worker makes it again when
//! it sends the mail, so neither the database nor the outbox holds it; the
//! database keeps only its hash, to find the request and use it once.
//!
//! Asking for a link answers the same whether the address has an account,
//! and past the limits (`accounts.*`: links per account, requests per
//! client address, within a window) too: only no mail is sent.

use super::accounts::{LoggedIn, account_email, hash_password, login_stamp};
use super::{Shop, sha256_hex};
use crate::application::error::AppResult;
use crate::clock;
use crate::domain::account::parse_new_password;
use crate::domain::address::Email;
use crate::domain::field_errors::FieldErrors;
use crate::domain::password_reset::ResetLimits;
pub use crate::domain::password_reset::{LinkRefusal, RESET_LINK_MINUTES};
use crate::ids::new_id;
use crate::payment::signature;
use crate::store::password_reset::{NewReset, ResetRequested};
use std::time::Duration;

/// What the link key signs for reset `reset_id`.
fn signed_text(reset_id: &str) -> String {
    format!("password-reset:{reset_id}")
}

/// The secret part of the reset link of request `reset_id`.
pub fn reset_token(shop: &Shop, reset_id: &str) -> String {
    let sig = signature::digest(&shop.link_key, &signed_text(reset_id));
    format!("{reset_id}.{sig}")
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The address of the form that sets a new password.
pub fn reset_link(shop: &Shop, reset_id: &str) -> String {
    format!(
        "{}/account/password/reset?token={}",
        shop.public_url(),
        reset_token(shop, reset_id)
    )
}

/// A token is an id (a UUID) and a SHA-256 HMAC in hex: anything much
/// longer is not one, and is not worth an HMAC.
const MAX_TOKEN_CHARS: usize = 200;

/// Whether the shop signed `token`; decided without the database, so a
/// forged token costs one HMAC and no query.
fn signed_by_shop(shop: &Shop, token: &str) -> bool {
    if token.len() > MAX_TOKEN_CHARS {
        return false;
    }
    token.split_once('.').is_some_and(|(reset_id, sig)| {
        signature::digest_matches(&shop.link_key, &signed_text(reset_id), sig)
    })
}

fn limits(shop: &Shop) -> (ResetLimits, Duration) {
    let accounts = &shop.settings.accounts;
    let limits = ResetLimits {
        per_account: i64::from(accounts.max_resets_per_account),
        per_ip: i64::from(accounts.max_reset_requests_per_ip),
    };
    (
        limits,
        Duration::from_secs(accounts.reset_window_minutes * 60),
    )
}

/// "Forgot your password?" for `email`, from `client_ip`: mails a link when
/// the address has an account and no limit is reached. `Err` only when
/// `email` is not an address at all; otherwise the caller answers the
/// same, whatever happened.
pub async fn request_reset(
    shop: &Shop,
    email: &str,
    client_ip: &str,
) -> AppResult<Result<(), FieldErrors>> {
    let email = match Email::parse(email) {
        Ok(email) => account_email(email.as_str()),
        Err(problem) => {
            let mut errors = FieldErrors::default();
            errors.add("email", problem);
            return Ok(Err(errors));
        }
    };
    let (limits, window) = limits(shop);
    let counted = shop.store.count_reset_request(client_ip, window).await?;
    if limits.refuses_client(counted.from_ip) {
        // Dropped unheard: it does not push the end of the wait further.
        shop.store.forget_reset_request(&counted.id).await?;
        tracing::warn!(
            ip = client_ip,
            "too many password reset requests from one address: no mail"
        );
        return Ok(Ok(()));
    }
    let id = new_id();
    let at = clock::now();
    let hash = token_hash(&reset_token(shop, &id));
    let reset = NewReset {
        id: &id,
        token_hash: &hash,
        expires_at: at + time::Duration::minutes(RESET_LINK_MINUTES),
    };
    let requested = shop
        .store
        .request_password_reset(&email, &reset, &limits, window, at)
        .await?;
    match requested {
        ResetRequested::Mailed => tracing::info!(reset = %id, "password reset link queued"),
        ResetRequested::NoAccount => {}
        ResetRequested::TooMany => {
            tracing::warn!("too many password reset links for one account: no mail");
        }
    }
    Ok(Ok(()))
}

/// Whether `token` may set a password now (to show the form or say why
/// not). The signature is checked before anything is looked up.
pub async fn check_token(shop: &Shop, token: &str) -> AppResult<Result<(), LinkRefusal>> {
    if !signed_by_shop(shop, token) {
        return Ok(Err(LinkRefusal::Unknown));
    }
    Ok(shop
        .store
        .password_reset_state(&token_hash(token), clock::now())
        .await?)
}

/// Why a new password was not set.
#[derive(Debug)]
pub enum ResetRefused {
    /// The link cannot set a password (any more).
    Link(LinkRefusal),
    /// The new password breaks a rule; the link still works.
    Fields(FieldErrors),
}

/// Sets the account's new password by the link's `token`, typed twice
/// (the rules of registration); the link and every other unused link of
/// the account are used up. The account is returned to log in.
pub async fn reset_password(
    shop: &Shop,
    token: &str,
    password: &str,
    confirmation: &str,
) -> AppResult<Result<LoggedIn, ResetRefused>> {
    if let Err(refusal) = check_token(shop, token).await? {
        return Ok(Err(ResetRefused::Link(refusal)));
    }
    let password = match parse_new_password(password, confirmation) {
        Ok(password) => password,
        Err(errors) => return Ok(Err(ResetRefused::Fields(errors))),
    };
    let hash = hash_password(password).await?;
    // Checked again inside the transaction: a link used meanwhile loses.
    let used = shop
        .store
        .use_password_reset(&token_hash(token), &hash, clock::now())
        .await?;
    Ok(match used {
        Ok(account) => {
            tracing::info!(user = %account.user_id, "password set by a reset link");
            Ok(LoggedIn {
                user_id: account.user_id,
                email: account.email,
                stamp: login_stamp(&hash),
            })
        }
        Err(refusal) => Err(ResetRefused::Link(refusal)),
    })
}
