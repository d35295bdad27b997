//! The first answer to each API POST, per caller and Idempotency-Key.
//! A claim is the insert of an in-progress row: the primary key lets one
//! request of several racing on any nodes have it.

use super::prepared::Prepare;
use super::rows::IdempotencyRow;
use super::schema::api_idempotency as records;
use super::{Store, StoreError, StoreResult, is_unique_violation, now, with_conn};
use crate::domain::idempotency::RecordState;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// What a claim of a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: it runs the work.
    Claimed,
    /// The key was claimed before: its record.
    Seen(StoredRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub state: RecordState,
    pub fingerprint: String,
    /// The answer, once done.
    pub status: Option<i64>,
    pub body: Option<String>,
}

impl Store {
    /// Claims `key` of `caller` for a request with `fingerprint`. Records
    /// older than `kept_for` are deleted first (a key may then be used
    /// again). An in-progress claim of the same request older than
    /// `abandoned_after` is taken over (its node died), by one request only.
    pub async fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        fingerprint: &str,
        kept_for: Duration,
        abandoned_after: Duration,
    ) -> StoreResult<Claim> {
        let at = now();
        let row = IdempotencyRow {
            caller_key_id: caller.to_owned(),
            idempotency_key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
            state: RecordState::InProgress.as_str().into(),
            status_code: None,
            response_body: None,
            created_at: at,
            claimed_at: at,
        };
        with_conn!(self, |c| {
            diesel::delete(records::table.filter(records::created_at.lt(at - kept_for)))
                .execute(c)
                .await?;
            match diesel::insert_into(records::table)
                .values(&row)
                .execute(c)
                .await
            {
                Ok(_) => return Ok(Claim::Claimed),
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(StoreError::from(e)),
            }
            let taken_over = diesel::update(
                records::table
                    .find((caller, key))
                    .filter(records::state.eq(RecordState::InProgress.as_str()))
                    .filter(records::fingerprint.eq(fingerprint))
                    .filter(records::claimed_at.lt(at - abandoned_after)),
            )
            .set(records::claimed_at.eq(at))
            .prepared()
            .execute(c)
            .await?;
            if taken_over == 1 {
                return Ok(Claim::Claimed);
            }
            let stored: IdempotencyRow = records::table
                .find((caller, key))
                .select(IdempotencyRow::as_select())
                .first(c)
                .await?;
            let state = RecordState::parse(&stored.state).ok_or_else(|| {
                StoreError::Corrupt(format!("idempotency record state {:?}", stored.state))
            })?;
            Ok(Claim::Seen(StoredRecord {
                state,
                fingerprint: stored.fingerprint,
                status: stored.status_code,
                body: stored.response_body,
            }))
        })
    }

    /// Stores the answer of a claimed key.
    pub async fn finish_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        body: &str,
    ) -> StoreResult<()> {
        with_conn!(self, |c| {
            diesel::update(
                records::table
                    .find((caller, key))
                    .filter(records::state.eq(RecordState::InProgress.as_str())),
            )
            .set((
                records::state.eq(RecordState::Done.as_str()),
                records::status_code.eq(Some(status)),
                records::response_body.eq(Some(body)),
            ))
            .prepared()
            .execute(c)
            .await?;
            Ok(())
        })
    }

    /// Lets go of a claimed key whose work failed, so a repeat runs it.
    pub async fn release_idempotency_key(&self, caller: &str, key: &str) -> StoreResult<()> {
        with_conn!(self, |c| {
            diesel::delete(
                records::table
                    .find((caller, key))
                    .filter(records::state.eq(RecordState::InProgress.as_str())),
            )
            .execute(c)
            .await?;
            Ok(())
        })
    }
}
