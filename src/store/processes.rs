//! The place-order processes: saved around the steps that change something
//! (alone, or in the transaction of the change), stepped by whoever holds the
//! lease (compare-and-swap on the row, expiring, so a dead node's process is
//! taken over).

use super::prepared::Prepare;
use super::rows::ProcessRow;
use super::schema::carts;
use super::schema::place_order_process as processes;
use super::{Store, StoreError, StoreResult, light_conn, light_tx, now, read};
use crate::domain::cart::CartStatus;
use crate::domain::checkout::CheckoutDetails;
use crate::domain::placeorder::{Context, FailureReason, PlacedOrder, Process, State};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// The lease a place-order step runs under. The store changes a step makes
/// (freezing the cart, placing, settling or cancelling the order, opening
/// the cart again) land only while this holder still holds the process's
/// lease: a node paused past its lease that wakes after another took the
/// attempt over changes nothing, as its save of the process would change
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence<'a> {
    pub process_id: &'a str,
    pub holder: &'a str,
    /// A save of the process that travels in the change's transaction
    /// instead of a commit of its own: the step before the change and the
    /// change land together or not at all.
    pub carries: Option<&'a StepSave>,
    /// A payment only the shop knows of, recorded in the change's
    /// transaction as well.
    pub records: Option<&'a super::payments::StartedPayment>,
}

/// The save of the process that an order placed ends (the process
/// succeeds with it), made once the order's id and number are known:
/// `Store::place_order` writes it in the order's transaction.
pub type Finish<'a> = dyn Fn(&PlacedOrder) -> StoreResult<StepSave> + Send + Sync + 'a;

/// The process as a step left it, ready to be written: on its own
/// (`Store::save_step`) or with the next change a step makes (`Fence`).
/// Written only over the `version` it was taken at, by the lease's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSave {
    state: &'static str,
    context: String,
    failure: Option<String>,
    is_final: bool,
    version: i64,
    lease_until: time::PrimitiveDateTime,
    at: time::PrimitiveDateTime,
}

impl StepSave {
    /// `process` as it stands, with the lease renewed for `ttl`.
    pub fn of(process: &Process, ttl: Duration) -> StoreResult<Self> {
        let at = now();
        Ok(Self {
            state: process.state.as_str(),
            context: json(&process.context)?,
            failure: process.failure.as_ref().map(json).transpose()?,
            is_final: process.state.is_final(),
            version: process.version,
            lease_until: at + ttl,
            at,
        })
    }
}

/// Writes a `StepSave` of process `$id` for `$holder`: the rows changed
/// (1, or 0 when the lease or the version moved on).
macro_rules! write_step {
    ($c:ident, $id:expr, $holder:expr, $save:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::place_order_process as saved;
        let save: &$crate::store::processes::StepSave = $save;
        diesel::update(
            saved::table
                .find($id)
                .filter(saved::version.eq(save.version()))
                .filter(saved::lease_owner.eq($holder)),
        )
        .set(save.changes())
        .prepared()
        .execute($c)
        .await
    }};
}

impl StepSave {
    pub(super) fn version(&self) -> i64 {
        self.version
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn changes(
        &self,
    ) -> (
        diesel::dsl::Eq<processes::state, &'static str>,
        diesel::dsl::Eq<processes::context, &str>,
        diesel::dsl::Eq<processes::failure, Option<&str>>,
        Option<diesel::dsl::Eq<processes::is_final, bool>>,
        diesel::dsl::Eq<processes::version, i64>,
        diesel::dsl::Eq<processes::lease_expires_at, time::PrimitiveDateTime>,
        diesel::dsl::Eq<processes::updated_at, time::PrimitiveDateTime>,
    ) {
        (
            processes::state.eq(self.state),
            processes::context.eq(self.context.as_str()),
            processes::failure.eq(self.failure.as_deref()),
            // Set only when it becomes true (a final process stays final):
            // an UPDATE naming the column rewrites the entry of the index
            // of running processes, a page written at every save.
            self.is_final.then(|| processes::is_final.eq(true)),
            processes::version.eq(self.version + 1),
            processes::lease_expires_at.eq(self.lease_until),
            processes::updated_at.eq(self.at),
        )
    }
}

/// Inside a write transaction: goes on only while the fence's holder holds
/// the lease, and keeps it held (the row stays locked) until the commit;
/// otherwise leaves the body with a conflict. A save the fence carries and
/// a payment it records are written here, so they hold the lease as well.
macro_rules! hold_fence {
    ($c:ident, $fence:expr) => {{
        use $crate::store::prepared::Prepare as _;
        use $crate::store::schema::place_order_process as fenced;
        let fence: &$crate::store::processes::Fence<'_> = $fence;
        let held = match fence.carries {
            Some(save) => {
                $crate::store::processes::write_step!($c, fence.process_id, fence.holder, save)?
            }
            None => {
                struct LeaseHeld;
                diesel::update(
                    fenced::table
                        .find(fence.process_id)
                        .filter(fenced::lease_owner.eq(fence.holder)),
                )
                .set(fenced::lease_owner.eq(fence.holder))
                .prepared_as::<LeaseHeld>()
                .execute($c)
                .await?
            }
        };
        if held == 0 {
            return Err($crate::store::StoreError::Conflict(
                "the attempt passed to another holder of its lease",
            )
            .into());
        }
        if let Some(started) = fence.records {
            $crate::store::payments::record_started!($c, started)?;
        }
    }};
}
pub(crate) use {hold_fence, write_step};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("process {what}: {e}"))
}

fn to_process(row: ProcessRow) -> StoreResult<Process> {
    Ok(Process {
        state: State::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        context: serde_json::from_str::<Context>(&row.context)
            .map_err(|e| corrupt("context", e))?,
        failure: row
            .failure
            .as_deref()
            .map(serde_json::from_str::<FailureReason>)
            .transpose()
            .map_err(|e| corrupt("failure", e))?,
        id: row.id,
        cart_id: row.cart_id,
        version: row.version,
    })
}

fn resting_states() -> Vec<&'static str> {
    State::ALL
        .iter()
        .filter(|s| s.is_resting())
        .map(|s| s.as_str())
        .collect()
}

fn new_row(process: &Process, lease: (&str, Duration)) -> StoreResult<ProcessRow> {
    let at = now();
    let (owner, ttl) = lease;
    Ok(ProcessRow {
        id: process.id.clone(),
        cart_id: process.cart_id.clone(),
        state: process.state.as_str().into(),
        context: json(&process.context)?,
        failure: None,
        idempotency_key: process.context.idempotency_key.as_str().into(),
        is_final: false,
        version: process.version,
        lease_owner: Some(owner.into()),
        lease_expires_at: Some(at + ttl),
        created_at: at,
        updated_at: at,
    })
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt("serializing", e))
}

impl Store {
    /// Starts an attempt in one transaction: the cart's checkout (with the
    /// attempt's new key) is saved only if the cart is still open at the
    /// `reviewed` version, and the process is stored. Fails with a
    /// retryable error when the cart changed or another process of the
    /// cart is running. The process is stored leased to `owner` for
    /// `ttl`, so its starter steps it without taking the lease again.
    pub async fn begin_attempt(
        &self,
        process: &Process,
        reviewed: i64,
        details: &CheckoutDetails,
        lease: (&str, Duration),
    ) -> StoreResult<()> {
        let checkout = json(details)?;
        let row = new_row(process, lease)?;
        light_tx!(self, |c| {
            let saved = diesel::update(
                carts::table
                    .find(&process.cart_id)
                    .filter(carts::version.eq(reviewed))
                    .filter(carts::status.eq(CartStatus::Open.as_str())),
            )
            .set((
                carts::checkout.eq(checkout),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(row.created_at),
            ))
            .prepared()
            .execute(c)
            .await?;
            if saved != 1 {
                return Err(StoreError::Conflict("cart changed since it was reviewed"));
            }
            diesel::insert_into(processes::table)
                .values(row)
                .execute(c)
                .await?;
            Ok(())
        })
    }

    pub async fn process(&self, id: &str) -> StoreResult<Option<Process>> {
        let row: Option<ProcessRow> = read!(self, |c| {
            processes::table
                .find(id)
                .select(ProcessRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(to_process).transpose()
    }

    /// The newest process of a cart, running or finished.
    pub async fn latest_process_of_cart(&self, cart_id: &str) -> StoreResult<Option<Process>> {
        let row: Option<ProcessRow> = read!(self, |c| {
            processes::table
                .filter(processes::cart_id.eq(cart_id))
                .order((processes::is_final.asc(), processes::created_at.desc()))
                .select(ProcessRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(to_process).transpose()
    }

    /// The newest process of the whole shop.
    #[cfg(feature = "test-support")]
    pub async fn latest_process(&self) -> StoreResult<Option<Process>> {
        let row: Option<ProcessRow> = read!(self, |c| {
            processes::table
                .order(processes::created_at.desc())
                .select(ProcessRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        row.map(to_process).transpose()
    }

    /// Takes the lease of a running process for `owner`; `false` while
    /// someone else holds an unexpired one.
    pub async fn take_process_lease(
        &self,
        id: &str,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let at = now();
        let taken = light_conn!(self, |c| {
            diesel::update(
                processes::table
                    .find(id)
                    .filter(processes::is_final.eq(false))
                    .filter(
                        processes::lease_owner
                            .is_null()
                            .or(processes::lease_owner.eq(owner))
                            .or(processes::lease_expires_at.lt(at)),
                    ),
            )
            .set((
                processes::lease_owner.eq(owner),
                processes::lease_expires_at.eq(at + ttl),
            ))
            .prepared()
            .execute(c)
            .await
        })?;
        Ok(taken == 1)
    }

    /// Saves a step if `owner` still holds the lease and nobody saved in
    /// between; renews the lease. `false` when the lease was lost.
    pub async fn save_process(
        &self,
        process: &Process,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        self.save_step(&process.id, owner, &StepSave::of(process, ttl)?)
            .await
    }

    /// Writes a step taken before (`StepSave::of`) on its own; `false`
    /// when the lease was lost or another save came first.
    /// Writes what `fence` carries and records, with nothing else: a
    /// conflict when its holder no longer holds the lease.
    pub async fn land(&self, fence: &Fence<'_>) -> StoreResult<()> {
        light_tx!(self, |c| {
            hold_fence!(c, fence);
            Ok::<_, StoreError>(())
        })
    }

    pub async fn save_step(&self, id: &str, owner: &str, save: &StepSave) -> StoreResult<bool> {
        let saved = light_conn!(self, |c| write_step!(c, id, owner, save))?;
        Ok(saved == 1)
    }

    pub async fn release_process_lease(&self, id: &str, owner: &str) -> StoreResult<()> {
        light_conn!(self, |c| {
            diesel::update(
                processes::table
                    .find(id)
                    .filter(processes::lease_owner.eq(owner)),
            )
            .set((
                processes::lease_owner.eq(None::<String>),
                processes::lease_expires_at.eq(None::<time::PrimitiveDateTime>),
            ))
            .prepared()
            .execute(c)
            .await
        })?;
        Ok(())
    }

    /// Processes resting (waiting for the shopper or the provider) since
    /// before `age` ago: their provider is asked how they stand.
    pub async fn resting_processes(&self, age: Duration, limit: i64) -> StoreResult<Vec<String>> {
        let at = now();
        let resting = resting_states();
        Ok(read!(self, |c| {
            processes::table
                .filter(processes::is_final.eq(false))
                .filter(processes::state.eq_any(&resting))
                .filter(processes::updated_at.lt(at - age))
                // Implied, and what the index of running processes has.
                .filter(processes::created_at.lt(at - age))
                .order(processes::updated_at.asc())
                .limit(limit)
                .select(processes::id)
                .load::<String>(c)
                .await
        })?)
    }

    /// Running processes nobody is stepping although they could move on:
    /// not resting (or rolling back), no live lease, untouched for `idle`.
    pub async fn stalled_processes(&self, idle: Duration, limit: i64) -> StoreResult<Vec<String>> {
        let at = now();
        let resting = resting_states();
        Ok(read!(self, |c| {
            processes::table
                .filter(processes::is_final.eq(false))
                // A failure being unwound is never left to rest.
                .filter(
                    processes::state
                        .ne_all(&resting)
                        .or(processes::failure.is_not_null()),
                )
                .filter(processes::updated_at.lt(at - idle))
                // Implied, and what the index of running processes has.
                .filter(processes::created_at.lt(at - idle))
                .filter(
                    processes::lease_expires_at
                        .is_null()
                        .or(processes::lease_expires_at.lt(at)),
                )
                .order(processes::updated_at.asc())
                .limit(limit)
                .select(processes::id)
                .load::<String>(c)
                .await
        })?)
    }
}
