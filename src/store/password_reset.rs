//! Requests to set a new password: a row per link mailed, found by the hash
//! of its token and used once, and the requests per client address, counted
//! for the limits. The token itself is made by the caller and never stored.

use super::mail::{NewMail, queue_mail};
use super::prepared::Prepare;
use super::schema::{password_reset_requests, password_resets, users};
use super::{Store, StoreError, StoreResult, light_conn, now, read, write_tx};
use crate::domain::actor::SYSTEM;
use crate::domain::mail::{MailKind, MailRequest};
use crate::domain::password_reset::{LinkRefusal, ResetLimits, check_link};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;
use time::PrimitiveDateTime;

/// A reset link about to be mailed: its id (the mail's reference, from
/// which the link is made again when it is sent) and its token's hash.
#[derive(Debug, Clone)]
pub struct NewReset<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub expires_at: PrimitiveDateTime,
}

/// What became of a reset request; the shopper is told the same in every
/// case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequested {
    /// The reset is stored and its mail queued.
    Mailed,
    /// No account has this email: nothing was stored.
    NoAccount,
    /// The account got as many links as the window allows: nothing was
    /// stored.
    TooMany,
}

/// The account whose password a reset link set.
#[derive(Debug, Clone)]
pub struct ResetAccount {
    pub user_id: String,
    pub email: String,
}

/// One reset request counted with those from its address before it.
#[derive(Debug, Clone)]
pub struct CountedRequest {
    pub id: String,
    /// Requests from this address within the window, this one included.
    pub from_ip: i64,
}

impl Store {
    /// For the account with this (lower-cased) email, in one transaction:
    /// the reset `reset`, unless the account got `limits.per_account`
    /// links within `window` before `at`, and its mail. An unknown email
    /// stores nothing.
    pub async fn request_password_reset(
        &self,
        email: &str,
        reset: &NewReset<'_>,
        limits: &ResetLimits,
        window: Duration,
        at: PrimitiveDateTime,
    ) -> StoreResult<ResetRequested> {
        write_tx!(self, |c| {
            let account: Option<(String, String)> = users::table
                .filter(users::email.eq(email))
                .select((users::id, users::email))
                .first(c)
                .await
                .optional()?;
            let Some((user_id, recipient)) = account else {
                return Ok(ResetRequested::NoAccount);
            };
            // Locks the account's row (PostgreSQL; SQLite's write lock is
            // taken at BEGIN): requests for one account are counted one
            // after the other, so none slips past the limit.
            diesel::update(users::table.find(&user_id))
                .set(users::email.eq(users::email))
                .prepared()
                .execute(c)
                .await?;
            let sent: i64 = password_resets::table
                .filter(password_resets::user_id.eq(&user_id))
                .filter(password_resets::created_at.gt(at - window))
                .count()
                .get_result(c)
                .await?;
            if !limits.mails_another(sent) {
                return Ok(ResetRequested::TooMany);
            }
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::id.eq(reset.id),
                    password_resets::user_id.eq(&user_id),
                    password_resets::token_hash.eq(reset.token_hash),
                    password_resets::expires_at.eq(reset.expires_at),
                    password_resets::created_at.eq(at),
                ))
                .execute(c)
                .await?;
            let request = MailRequest::about(MailKind::PasswordReset, reset.id);
            let mail = NewMail {
                request: &request,
                order_id: None,
                user_id: Some(&user_id),
                recipient: &recipient,
                recipient_name: "",
                actor: SYSTEM,
                cart_id: "",
            };
            queue_mail!(c, &mail, Some(mail.dedupe()));
            Ok::<_, StoreError>(ResetRequested::Mailed)
        })
    }

    /// Whether the reset with this token hash may set a password at `at`.
    pub async fn password_reset_state(
        &self,
        token_hash: &str,
        at: PrimitiveDateTime,
    ) -> StoreResult<Result<(), LinkRefusal>> {
        let found: Option<(PrimitiveDateTime, Option<PrimitiveDateTime>)> = read!(self, |c| {
            password_resets::table
                .filter(password_resets::token_hash.eq(token_hash))
                .select((password_resets::expires_at, password_resets::used_at))
                .first(c)
                .await
                .optional()
        })?;
        Ok(match found {
            Some((expires_at, used_at)) => check_link(used_at.is_some(), expires_at, at),
            None => Err(LinkRefusal::Unknown),
        })
    }

    /// In one transaction: uses the reset with this token hash (it must be
    /// known, unused and unexpired at `at`), sets its account's password
    /// hash, and marks the account's other unused resets used, so an older
    /// link mailed before cannot set the password again.
    pub async fn use_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        at: PrimitiveDateTime,
    ) -> StoreResult<Result<ResetAccount, LinkRefusal>> {
        write_tx!(self, |c| {
            let found: Option<(String, String, PrimitiveDateTime, Option<PrimitiveDateTime>)> =
                password_resets::table
                    .filter(password_resets::token_hash.eq(token_hash))
                    .select((
                        password_resets::id,
                        password_resets::user_id,
                        password_resets::expires_at,
                        password_resets::used_at,
                    ))
                    .first(c)
                    .await
                    .optional()?;
            let Some((id, user_id, expires_at, used_at)) = found else {
                return Ok(Err(LinkRefusal::Unknown));
            };
            if let Err(refusal) = check_link(used_at.is_some(), expires_at, at) {
                return Ok(Err(refusal));
            }
            // Only while unused: of two uses racing, the second finds it used.
            let claimed = diesel::update(
                password_resets::table
                    .find(&id)
                    .filter(password_resets::used_at.is_null()),
            )
            .set(password_resets::used_at.eq(at))
            .prepared()
            .execute(c)
            .await?;
            if claimed == 0 {
                return Ok(Err(LinkRefusal::Used));
            }
            diesel::update(users::table.find(&user_id))
                .set(users::password_hash.eq(password_hash))
                .prepared()
                .execute(c)
                .await?;
            diesel::update(
                password_resets::table
                    .filter(password_resets::user_id.eq(&user_id))
                    .filter(password_resets::used_at.is_null()),
            )
            .set(password_resets::used_at.eq(at))
            .prepared()
            .execute(c)
            .await?;
            let email: String = users::table
                .find(&user_id)
                .select(users::email)
                .first(c)
                .await?;
            Ok::<_, StoreError>(Ok(ResetAccount { user_id, email }))
        })
    }

    /// Records a reset request from `ip` and counts the requests from it
    /// within `window`, this one included. As with staff logins, the row
    /// is committed before counting, so requests racing on several nodes
    /// each see the others. Requests older than the window are deleted on
    /// the way.
    pub async fn count_reset_request(
        &self,
        ip: &str,
        window: Duration,
    ) -> StoreResult<CountedRequest> {
        let at = now();
        let since = at - window;
        let id = new_id();
        light_conn!(self, |c| {
            diesel::delete(
                password_reset_requests::table
                    .filter(password_reset_requests::requested_at.lt(since)),
            )
            .execute(c)
            .await?;
            diesel::insert_into(password_reset_requests::table)
                .values((
                    password_reset_requests::id.eq(&id),
                    password_reset_requests::ip.eq(ip),
                    password_reset_requests::requested_at.eq(at),
                ))
                .execute(c)
                .await?;
            let from_ip: i64 = password_reset_requests::table
                .filter(password_reset_requests::ip.eq(ip))
                .filter(password_reset_requests::requested_at.ge(since))
                .count()
                .get_result(c)
                .await?;
            Ok::<_, StoreError>(CountedRequest {
                id: id.clone(),
                from_ip,
            })
        })
    }

    /// Takes back one request (it was dropped unheard, so it counts
    /// nothing and does not push the end of the wait further).
    pub async fn forget_reset_request(&self, id: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::delete(password_reset_requests::table.find(id))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Moves the reset `id`'s times `by` into the past, as if it had been
    /// asked for that long ago.
    #[cfg(feature = "test-support")]
    pub async fn age_password_reset(&self, id: &str, by: Duration) -> StoreResult<()> {
        write_tx!(self, |c| {
            let (created_at, expires_at): (PrimitiveDateTime, PrimitiveDateTime) =
                password_resets::table
                    .find(id)
                    .select((password_resets::created_at, password_resets::expires_at))
                    .first(c)
                    .await?;
            diesel::update(password_resets::table.find(id))
                .set((
                    password_resets::created_at.eq(created_at - by),
                    password_resets::expires_at.eq(expires_at - by),
                ))
                .prepared()
                .execute(c)
                .await?;
            Ok::<_, StoreError>(())
        })
    }
}
