//! Staff accounts, their sessions and their login attempts. The rules
//! (how long a session lasts, how many attempts are too many) belong to
//! the caller; this module only counts and keeps.

use super::prepared::Prepare;
use super::rows::{LoginAttemptRow, StaffRow, StaffSessionRow};
use super::schema::{staff, staff_login_attempts, staff_sessions};
use super::{
    Store, StoreError, StoreResult, is_unique_violation, light_conn, now, read, with_conn, write_tx,
};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// A staff account as stored.
#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub id: String,
    pub email: String,
    pub password_hash: String,
}

/// A live staff session with its account.
#[derive(Debug, Clone)]
pub struct StoredStaffSession {
    pub staff_id: String,
    pub email: String,
    pub csrf_token: String,
}

/// What happens to a staff account whose sessions end. No `Debug`: the
/// hash is never to be logged.
#[derive(Clone, Copy)]
pub enum StaffChange<'a> {
    /// A new password, by its hash.
    NewPassword(&'a str),
    /// The account goes. What the member did stays on record under their
    /// email (`Actor`).
    Removed,
}

impl StaffChange<'_> {
    /// What happened, for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NewPassword(_) => "new password",
            Self::Removed => "removed",
        }
    }
}

/// One login attempt, counted with those before it in the window.
#[derive(Debug, Clone)]
pub struct CountedAttempt {
    pub id: String,
    /// Attempts with this email in the window, this one included.
    pub for_account: i64,
    /// Attempts from this address in the window, this one included.
    pub from_ip: i64,
}

impl Store {
    /// Creates a staff account; `None` when the email is taken. Emails are
    /// stored lower-cased by the caller.
    pub async fn create_staff(
        &self,
        email: &str,
        password_hash: &str,
    ) -> StoreResult<Option<String>> {
        let row = StaffRow {
            id: new_id(),
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
            created_at: now(),
        };
        let inserted = with_conn!(self, |c| {
            diesel::insert_into(staff::table)
                .values(&row)
                .execute(c)
                .await
        });
        match inserted {
            Ok(_) => Ok(Some(row.id)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn staff_by_email(&self, email: &str) -> StoreResult<Option<StaffAccount>> {
        let row: Option<StaffRow> = read!(self, |c| {
            staff::table
                .filter(staff::email.eq(email))
                .select(StaffRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        Ok(row.map(|r| StaffAccount {
            id: r.id,
            email: r.email,
            password_hash: r.password_hash,
        }))
    }

    /// Changes the staff account with this email as `change` says and, in
    /// the same transaction, ends its sessions; false without the account.
    pub async fn change_staff(&self, email: &str, change: StaffChange<'_>) -> StoreResult<bool> {
        write_tx!(self, |c| {
            let id: Option<String> = staff::table
                .filter(staff::email.eq(email))
                .select(staff::id)
                .first(c)
                .await
                .optional()?;
            let Some(id) = id else {
                return Ok(false);
            };
            // The account's row first: a login being made now waits for it
            // on PostgreSQL (see `start_staff_session`), and its session is
            // then either refused or seen here and deleted.
            match change {
                StaffChange::NewPassword(hash) => {
                    diesel::update(staff::table.find(&id))
                        .set(staff::password_hash.eq(hash))
                        .execute(c)
                        .await?
                }
                StaffChange::Removed => diesel::delete(staff::table.find(&id)).execute(c).await?,
            };
            diesel::delete(staff_sessions::table.filter(staff_sessions::staff_id.eq(&id)))
                .execute(c)
                .await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Stores a new session (by the hash of its id) for the account whose
    /// password was checked against `password_hash` and, in the same
    /// transaction, deletes the one it replaces and every session idle for
    /// longer than `idle`. False, and nothing stored, when the account has
    /// another password by now or is gone (`change_staff` while the
    /// password was being checked).
    pub async fn start_staff_session(
        &self,
        id_hash: &str,
        staff_id: &str,
        password_hash: &str,
        csrf_token: &str,
        replaces: Option<&str>,
        idle: Duration,
    ) -> StoreResult<bool> {
        let at = now();
        let row = StaffSessionRow {
            id_hash: id_hash.to_owned(),
            staff_id: staff_id.to_owned(),
            csrf_token: csrf_token.to_owned(),
            created_at: at,
            last_seen_at: at,
        };
        write_tx!(self, |c| {
            // Changes nothing but holds the account's row (PostgreSQL) until
            // the commit: a `change_staff` waits for it and then sees this
            // session, or went first and this finds another password.
            let unchanged = diesel::update(
                staff::table
                    .find(staff_id)
                    .filter(staff::password_hash.eq(password_hash)),
            )
            .set(staff::password_hash.eq(password_hash))
            .execute(c)
            .await?;
            if unchanged == 0 {
                return Ok(false);
            }
            if let Some(old) = replaces {
                diesel::delete(staff_sessions::table.find(old))
                    .execute(c)
                    .await?;
            }
            diesel::delete(
                staff_sessions::table.filter(staff_sessions::last_seen_at.lt(at - idle)),
            )
            .execute(c)
            .await?;
            diesel::insert_into(staff_sessions::table)
                .values(&row)
                .execute(c)
                .await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// The session with this id hash, if it was seen within `idle`; its
    /// last-seen time moves to now. A session idle for longer is deleted.
    pub async fn touch_staff_session(
        &self,
        id_hash: &str,
        idle: Duration,
    ) -> StoreResult<Option<StoredStaffSession>> {
        let at = now();
        light_conn!(self, |c| {
            let found: Option<(StaffSessionRow, String)> = staff_sessions::table
                .inner_join(staff::table)
                .filter(staff_sessions::id_hash.eq(id_hash))
                .select((StaffSessionRow::as_select(), staff::email))
                .first(c)
                .await
                .optional()?;
            let Some((session, email)) = found else {
                return Ok(None);
            };
            if session.last_seen_at < at - idle {
                diesel::delete(staff_sessions::table.find(id_hash))
                    .execute(c)
                    .await?;
                return Ok(None);
            }
            diesel::update(staff_sessions::table.find(id_hash))
                .set(staff_sessions::last_seen_at.eq(at))
                .prepared()
                .execute(c)
                .await?;
            Ok::<_, StoreError>(Some(StoredStaffSession {
                staff_id: session.staff_id,
                email,
                csrf_token: session.csrf_token,
            }))
        })
    }

    pub async fn end_staff_session(&self, id_hash: &str) -> StoreResult<()> {
        with_conn!(self, |c| {
            diesel::delete(staff_sessions::table.find(id_hash))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Records a login attempt and counts the attempts within `window`
    /// for the email and for the address, this one included. The row is
    /// committed before counting, so attempts racing on several nodes
    /// each see the others: none slips past a limit. Attempts older than
    /// the window are deleted on the way.
    pub async fn count_login_attempt(
        &self,
        email: &str,
        ip: &str,
        window: Duration,
    ) -> StoreResult<CountedAttempt> {
        let at = now();
        let since = at - window;
        let row = LoginAttemptRow {
            id: new_id(),
            email: email.to_owned(),
            ip: ip.to_owned(),
            attempted_at: at,
        };
        light_conn!(self, |c| {
            diesel::delete(
                staff_login_attempts::table.filter(staff_login_attempts::attempted_at.lt(since)),
            )
            .execute(c)
            .await?;
            diesel::insert_into(staff_login_attempts::table)
                .values(&row)
                .execute(c)
                .await?;
            let for_account: i64 = staff_login_attempts::table
                .filter(staff_login_attempts::email.eq(email))
                .filter(staff_login_attempts::attempted_at.ge(since))
                .count()
                .get_result(c)
                .await?;
            let from_ip: i64 = staff_login_attempts::table
                .filter(staff_login_attempts::ip.eq(ip))
                .filter(staff_login_attempts::attempted_at.ge(since))
                .count()
                .get_result(c)
                .await?;
            Ok::<_, StoreError>(CountedAttempt {
                id: row.id.clone(),
                for_account,
                from_ip,
            })
        })
    }

    /// Takes back one attempt (it was refused unheard, so it counts nothing).
    pub async fn forget_login_attempt(&self, id: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::delete(staff_login_attempts::table.find(id))
                .execute(c)
                .await?;
            Ok(())
        })
    }

    /// Clears the attempts with this email (after it logged in).
    pub async fn clear_login_attempts(&self, email: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::delete(
                staff_login_attempts::table.filter(staff_login_attempts::email.eq(email)),
            )
            .execute(c)
            .await?;
            Ok(())
        })
    }

    /// Moves every staff session's last-seen time `by` into the past, as
    /// if nobody had clicked for that long.
    #[cfg(feature = "test-support")]
    pub async fn age_staff_sessions(&self, by: Duration) -> StoreResult<()> {
        write_tx!(self, |c| {
            let seen: Vec<(String, time::PrimitiveDateTime)> = staff_sessions::table
                .select((staff_sessions::id_hash, staff_sessions::last_seen_at))
                .load(c)
                .await?;
            for (id_hash, last_seen_at) in seen {
                diesel::update(staff_sessions::table.find(id_hash))
                    .set(staff_sessions::last_seen_at.eq(last_seen_at - by))
                    .prepared()
                    .execute(c)
                    .await?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// How many staff sessions are stored.
    #[cfg(feature = "test-support")]
    pub async fn count_staff_sessions(&self) -> StoreResult<i64> {
        read!(self, |c| {
            let n: i64 = staff_sessions::table.count().get_result(c).await?;
            Ok(n)
        })
    }
}
