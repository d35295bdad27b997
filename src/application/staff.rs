//! Staff accounts and their back-office sessions. A session id lives in
//! the staff member's cookie and only its SHA-256 in the database; every
//! login makes a new one. Logins are limited per email typed and per
//! client address, counted in the database, so the limits hold across nodes.

use super::accounts::{hash_password, verify_password};
use super::{Shop, sha256_hex};
use crate::application::error::AppResult;
use crate::domain::staff::{LoginLimits, check_staff_password, staff_email};
use crate::ids::random_token;
use crate::store::Store;
use crate::store::seed::DEMO_STAFF_EMAIL;
use crate::store::staff::StaffChange;
use std::time::Duration;

/// A signed-in staff member, as a back-office request sees them.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub staff_id: String,
    pub email: String,
    /// Every back-office form carries it.
    pub csrf_token: String,
}

/// A login as typed, with the address it came from.
pub struct LoginAttempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub ip: &'a str,
    /// The session id the browser still holds, if any: it ends now.
    pub replaces: Option<&'a str>,
}

#[derive(Debug)]
pub enum Login {
    /// The new session id, for the cookie, and who it is.
    SignedIn {
        session_id: String,
        member: StaffMember,
    },
    /// Wrong email or password (which one is not said).
    Refused,
    /// Too many failed logins for this email or from this address: refused
    /// without looking at the password. `minutes` is the window to wait.
    Limited { minutes: u64 },
}

fn idle_limit(shop: &Shop) -> Duration {
    Duration::from_secs(shop.settings.admin.session_idle_minutes * 60)
}

/// The longest email counted: a typed junk email cannot grow the table.
const COUNTED_EMAIL_CHARS: usize = 254;

pub async fn log_in(shop: &Shop, attempt: LoginAttempt<'_>) -> AppResult<Login> {
    let admin = &shop.settings.admin;
    let email: String = attempt
        .email
        .trim()
        .to_lowercase()
        .chars()
        .take(COUNTED_EMAIL_CHARS)
        .collect();
    let limits = LoginLimits {
        per_account: i64::from(admin.max_failed_logins_per_account),
        per_ip: i64::from(admin.max_failed_logins_per_ip),
    };
    let window = Duration::from_secs(admin.login_window_minutes * 60);
    let counted = shop
        .store
        .count_login_attempt(&email, attempt.ip, window)
        .await?;
    if limits.refuses(counted.for_account, counted.from_ip) {
        // Refused unheard: it does not push the end of the wait further.
        shop.store.forget_login_attempt(&counted.id).await?;
        return Ok(Login::Limited {
            minutes: admin.login_window_minutes,
        });
    }
    let account = shop.store.staff_by_email(&email).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = verify_password(attempt.password.to_owned(), stored).await?;
    let Some(account) = account.filter(|_| matches) else {
        return Ok(Login::Refused);
    };
    shop.store.clear_login_attempts(&email).await?;
    let session_id = random_token();
    let member = StaffMember {
        staff_id: account.id,
        email: account.email,
        csrf_token: random_token(),
    };
    let replaces = attempt.replaces.map(|id| sha256_hex(id.as_bytes()));
    let started = shop
        .store
        .start_staff_session(
            &sha256_hex(session_id.as_bytes()),
            &member.staff_id,
            &account.password_hash,
            &member.csrf_token,
            replaces.as_deref(),
            idle_limit(shop),
        )
        .await?;
    if !started {
        // The password changed, or the account went, while it was checked.
        return Ok(Login::Refused);
    }
    tracing::info!(staff = %member.email, "staff member logged in");
    Ok(Login::SignedIn { session_id, member })
}

/// The staff member of a session id, if the session is live; it counts as
/// activity. A session idle past `admin.session_idle_minutes` is gone.
pub async fn signed_in(shop: &Shop, session_id: &str) -> AppResult<Option<StaffMember>> {
    let stored = shop
        .store
        .touch_staff_session(&sha256_hex(session_id.as_bytes()), idle_limit(shop))
        .await?;
    Ok(stored.map(|s| StaffMember {
        staff_id: s.staff_id,
        email: s.email,
        csrf_token: s.csrf_token,
    }))
}

pub async fn log_out(shop: &Shop, session_id: &str) -> AppResult<()> {
    shop.store
        .end_staff_session(&sha256_hex(session_id.as_bytes()))
        .await?;
    Ok(())
}

/// Creates a staff account (`kassa admin add`): `Err` with a message for
/// the operator when the email or password is refused or the account exists.
pub async fn add_staff(
    store: &Store,
    email: &str,
    password: &str,
) -> AppResult<Result<String, String>> {
    let (email, hash) = match credentials(email, password).await? {
        Ok(credentials) => credentials,
        Err(problem) => return Ok(Err(problem)),
    };
    Ok(match store.create_staff(&email, &hash).await? {
        Some(_) => Ok(email),
        None => Err(format!("a staff account for {email} exists already")),
    })
}

/// Gives a staff account a new password (`kassa admin password`) and ends
/// its sessions, on every node: `Err` with a message for the operator when
/// the password is refused or there is no such account.
pub async fn set_staff_password(
    store: &Store,
    email: &str,
    password: &str,
) -> AppResult<Result<String, String>> {
    let (email, hash) = match credentials(email, password).await? {
        Ok(credentials) => credentials,
        Err(problem) => return Ok(Err(problem)),
    };
    change(store, email, StaffChange::NewPassword(&hash)).await
}

/// Removes a staff account and its sessions (`kassa admin remove`): `Err`
/// with a message for the operator when there is no such account.
pub async fn remove_staff(store: &Store, email: &str) -> AppResult<Result<String, String>> {
    match staff_email(email) {
        Ok(email) => change(store, email, StaffChange::Removed).await,
        Err(problem) => Ok(Err(problem)),
    }
}

/// The account's email as stored and the password's hash, or what is wrong
/// with them.
async fn credentials(email: &str, password: &str) -> AppResult<Result<(String, String), String>> {
    let email = match staff_email(email) {
        Ok(email) => email,
        Err(problem) => return Ok(Err(problem)),
    };
    if let Err(problem) = check_staff_password(password) {
        return Ok(Err(problem));
    }
    let hash = hash_password(password.to_owned()).await?;
    Ok(Ok((email, hash)))
}

async fn change(
    store: &Store,
    email: String,
    change: StaffChange<'_>,
) -> AppResult<Result<String, String>> {
    if !store.change_staff(&email, change).await? {
        return Ok(Err(format!("there is no staff account for {email}")));
    }
    tracing::info!(staff = %email, change = change.name(), "staff account changed; its sessions ended");
    Ok(Ok(email))
}

/// The demo's staff account, made when the shop runs with demo data and
/// has no staff account yet.
pub async fn seed_demo_staff(store: &Store) -> AppResult<()> {
    if store.seed_demo_staff().await? {
        tracing::warn!(
            "created the demo staff account {DEMO_STAFF_EMAIL} with the demo password; \
             run without shop.demo_data in production"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seed::{DEMO_STAFF_PASSWORD, DEMO_STAFF_PASSWORD_HASH};

    #[tokio::test]
    async fn the_stored_demo_hash_is_of_the_demo_password() {
        let hash = Some(DEMO_STAFF_PASSWORD_HASH.to_owned());
        assert!(
            verify_password(DEMO_STAFF_PASSWORD.into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("another one".into(), hash).await.unwrap());
    }
}
