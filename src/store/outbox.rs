//! The transactional outbox: events are inserted in the transaction of the
//! change they describe, and claimed by one worker at a time on any node.

use super::prepared::Prepare;
use super::schema::outbox;
use super::{Store, StoreResult, light_conn, light_tx, now, read};
use crate::domain::events::{EventKind, EventPayload};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// What the delivery of an event leaves to record, in the same commit as
/// the event's "done".
#[derive(Debug)]
pub enum Delivered {
    /// Nothing of the shop's own.
    Plain,
    /// The mail went out: what was sent is kept.
    MailSent {
        mail_id: String,
        content: super::mail::MailContent,
    },
    /// The customer system took the registration's new status.
    Registration {
        registration_id: String,
        status: super::registrations::RegistrationStatus,
    },
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
pub(crate) struct NewOutboxRow {
    id: String,
    kind: String,
    cart_id: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: time::PrimitiveDateTime,
    created_at: time::PrimitiveDateTime,
    updated_at: time::PrimitiveDateTime,
}

/// An outbox row for `kind`; insert it in the transaction of the change.
/// A payload that cannot be written fails the change: an event is never
/// stored without what its handler needs.
pub(crate) fn event(
    kind: EventKind,
    cart_id: &str,
    payload: &EventPayload,
) -> StoreResult<NewOutboxRow> {
    let at = now();
    Ok(NewOutboxRow {
        id: new_id(),
        kind: kind.as_str().into(),
        cart_id: cart_id.to_owned(),
        payload: serde_json::to_string(payload)
            .map_err(|e| super::StoreError::Corrupt(format!("event payload: {e}")))?,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
        updated_at: at,
    })
}

/// Inside the transaction that queues a registration's deletion: that
/// registration, if still pending, is marked abandoned, so a retry of the
/// checkout makes a new one instead of reusing the one about to be
/// deleted. Only the registration named: a newer one of the same cart
/// belongs to a newer attempt.
macro_rules! abandon_registration {
    ($c:expr, $registration_id:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::registrations;
        if let Some(id) = $registration_id {
            diesel::update(
                registrations::table
                    .filter(registrations::registration_id.eq(id))
                    .filter(registrations::status.eq("pending")),
            )
            .set(registrations::status.eq("abandoned"))
            .prepared()
            .execute($c)
            .await?;
        }
    }};
}
pub(crate) use abandon_registration;

const FAILED: &str = "failed";

/// An event the worker gave up on.
#[cfg(feature = "test-support")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    pub id: String,
    pub kind: String,
    pub reason: String,
}

/// Which worker claims an event: mails go through their own worker, so a
/// mail server that hangs never delays the registration API or the
/// provider, and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Mail,
    Events,
}

/// A claimed event.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: String,
    pub kind: EventKind,
    pub cart_id: String,
    pub payload: EventPayload,
    pub attempts: i64,
}

impl Store {
    /// Claims up to `limit` due events for `worker` for `lock`; an event
    /// whose worker died is claimed again once its lock expires.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        lane: Lane,
        lock: Duration,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        let mail = EventKind::Mail.as_str();
        let at = now();
        let free = || {
            outbox::locked_until
                .is_null()
                .or(outbox::locked_until.lt(at))
        };
        // Looked for on a reading connection: an idle worker takes no
        // write turn and commits nothing.
        let candidates: Vec<String> = read!(self, |c| {
            let due = outbox::table
                .filter(outbox::status.eq("pending"))
                .filter(outbox::next_attempt_at.le(at))
                .filter(free())
                .into_boxed();
            match lane {
                Lane::Mail => due.filter(outbox::kind.eq(mail)),
                Lane::Events => due.filter(outbox::kind.ne(mail)),
            }
            .order(outbox::created_at.asc())
            .limit(limit)
            .select(outbox::id)
            .load(c)
            .await
        })?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // All claimed in one commit; one another worker took meanwhile is
        // left to it.
        let rows: Vec<(String, String, String, String, i64)> = light_tx!(self, |c| {
            let mut rows = Vec::with_capacity(candidates.len());
            for id in &candidates {
                let taken = diesel::update(
                    outbox::table
                        .find(id)
                        .filter(outbox::status.eq("pending"))
                        .filter(free()),
                )
                .set((
                    outbox::locked_by.eq(worker),
                    outbox::locked_until.eq(at + lock),
                ))
                .prepared()
                .execute(c)
                .await?;
                if taken == 1 {
                    rows.push(
                        outbox::table
                            .find(id)
                            .select((
                                outbox::id,
                                outbox::kind,
                                outbox::cart_id,
                                outbox::payload,
                                outbox::attempts,
                            ))
                            .first(c)
                            .await?,
                    );
                }
            }
            Ok::<_, diesel::result::Error>(rows)
        })?;
        let mut claimed = Vec::new();
        for (id, kind, cart_id, payload, attempts) in rows {
            // An event nobody can read is kept, with the reason, for a
            // person to look at; it is never dropped or claimed forever.
            let readable = EventKind::parse(&kind)
                .ok_or_else(|| format!("unknown event kind {kind:?}"))
                .and_then(|kind| {
                    serde_json::from_str::<EventPayload>(&payload)
                        .map(|payload| (kind, payload))
                        .map_err(|e| format!("unreadable payload: {e}"))
                });
            match readable {
                Ok((kind, payload)) => claimed.push(OutboxItem {
                    id,
                    kind,
                    cart_id,
                    payload,
                    attempts,
                }),
                Err(reason) => {
                    tracing::error!(event = %id, %reason, "outbox event cannot be delivered");
                    self.outbox_failed(&id, worker, &reason).await?;
                }
            }
        }
        Ok(claimed)
    }

    /// The events `done` were delivered: marked done, in one commit with
    /// what their deliveries leave to record.
    pub async fn outbox_done(&self, done: &[(String, Delivered)], worker: &str) -> StoreResult<()> {
        macro_rules! done {
            ($c:expr, $id:expr) => {
                diesel::update(outbox::table.find($id).filter(outbox::locked_by.eq(worker)))
                    .set((
                        outbox::status.eq("done"),
                        outbox::locked_until.eq(None::<time::PrimitiveDateTime>),
                        outbox::updated_at.eq(now()),
                    ))
                    .prepared()
                    .execute($c)
                    .await
            };
        }
        match done {
            [] => {}
            [(id, Delivered::Plain)] => {
                light_conn!(self, |c| done!(c, id))?;
            }
            _ => {
                light_tx!(self, |c| {
                    for (id, delivered) in done {
                        match delivered {
                            Delivered::Plain => {}
                            Delivered::MailSent { mail_id, content } => {
                                super::mail::mark_mail_sent!(c, mail_id, content)?;
                            }
                            Delivered::Registration {
                                registration_id,
                                status,
                            } => {
                                super::registrations::mark_registration_status!(
                                    c,
                                    registration_id,
                                    *status
                                )?;
                            }
                        }
                        done!(c, id)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })?;
            }
        }
        Ok(())
    }

    pub async fn outbox_retry(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        after: Duration,
    ) -> StoreResult<()> {
        let at = now();
        light_conn!(self, |c| {
            diesel::update(outbox::table.find(id).filter(outbox::locked_by.eq(worker)))
                .set((
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::next_attempt_at.eq(at + after),
                    outbox::locked_until.eq(None::<time::PrimitiveDateTime>),
                    outbox::last_error.eq(error),
                    outbox::updated_at.eq(at),
                ))
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(())
    }

    /// Lets go of events `worker` claimed and did not begin (the node
    /// stops): free for any worker now, not when the claim runs out.
    pub async fn release_outbox_claims(&self, ids: &[String], worker: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::update(
                outbox::table
                    .filter(outbox::id.eq_any(ids))
                    .filter(outbox::locked_by.eq(worker)),
            )
            .set(outbox::locked_until.eq(None::<time::PrimitiveDateTime>))
            .execute(c)
            .await
        })?;
        Ok(())
    }

    /// Gives up on an event that can never be delivered: it stays, marked
    /// failed with the reason, for a person to look at.
    pub async fn outbox_failed(&self, id: &str, worker: &str, reason: &str) -> StoreResult<()> {
        let at = now();
        light_conn!(self, |c| {
            diesel::update(outbox::table.find(id).filter(outbox::locked_by.eq(worker)))
                .set((
                    outbox::status.eq(FAILED),
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::locked_until.eq(None::<time::PrimitiveDateTime>),
                    outbox::last_error.eq(reason),
                    outbox::updated_at.eq(at),
                ))
                .prepared()
                .execute(c)
                .await
        })?;
        Ok(())
    }

    /// Events given up on, newest first, with why.
    #[cfg(feature = "test-support")]
    pub async fn failed_outbox_events(&self, limit: i64) -> StoreResult<Vec<FailedEvent>> {
        let rows: Vec<(String, String, Option<String>)> = super::read!(self, |c| {
            outbox::table
                .filter(outbox::status.eq(FAILED))
                .order(outbox::updated_at.desc())
                .limit(limit)
                .select((outbox::id, outbox::kind, outbox::last_error))
                .load(c)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, reason)| FailedEvent {
                id,
                kind,
                reason: reason.unwrap_or_default(),
            })
            .collect())
    }

    /// Events not delivered yet, mails apart (they have a worker of their
    /// own).
    #[cfg(feature = "test-support")]
    pub async fn count_pending_outbox(&self) -> StoreResult<i64> {
        Ok(super::read!(self, |c| {
            outbox::table
                .filter(outbox::status.eq("pending"))
                .filter(outbox::kind.ne(EventKind::Mail.as_str()))
                .count()
                .get_result::<i64>(c)
                .await
        })?)
    }
}
