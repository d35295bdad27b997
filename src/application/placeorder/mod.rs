//! The place-order coordinator: starts, refreshes and cancels processes.
//! Whoever holds a process's lease steps it, one state at a time, saving
//! around every step that changes something outside (`Turn::saves`), in
//! the transaction of the change where it can (`travels_with_next_change`);
//! everyone else waits for it or reads where it stands.

mod ports;
pub mod sweeper;

use super::Shop;
use super::registration::{self, RegistrationProblem};
use crate::application::error::{AppError, AppResult};
use crate::domain::cart::Cart;
use crate::domain::placeorder::coordinator::{self, Turn, status_of};
use crate::domain::placeorder::{FailureReason, Process, State};
use crate::ids::{new_holder, new_id, new_idempotency_key};
use ports::ShopPorts;
use std::time::Duration;

pub use crate::domain::placeorder::coordinator::ProcessStatus;

impl Shop {
    fn lease(&self) -> Duration {
        Duration::from_millis(self.settings.placeorder.lease_ms)
    }

    fn lease_wait(&self) -> Duration {
        Duration::from_millis(self.settings.placeorder.wait_for_lease_ms)
    }
}

/// Why "Place order" did not start an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefused {
    /// The cart is not the version the shopper reviewed.
    CartChanged,
    /// The customer system refused or did not answer.
    Registration(RegistrationProblem),
    /// The previous attempt is still being cancelled (its provider does
    /// not answer yet).
    PreviousAttemptBusy,
}

/// Starts a process for the cart at the version the shopper reviewed: the
/// shopper's "place order". A process still running for the cart is the
/// answer (a double click leads to the running payment); one being rolled
/// back is finished first, so its events are settled before this attempt
/// takes its registration.
///
/// `read` is the cart as the caller just read it, if it did; a later round
/// reads it again. A copy gone stale meanwhile is caught by
/// `begin_attempt`, which starts nothing unless the cart is still open at
/// the reviewed version.
pub async fn start(
    shop: &Shop,
    cart_id: &str,
    mut read: Option<Cart>,
    reviewed_version: i64,
) -> AppResult<Result<ProcessStatus, StartRefused>> {
    for _ in 0..3 {
        if let Some(running) = shop.store.latest_process_of_cart(cart_id).await? {
            match running.state {
                // Unless its order was cancelled later (an expired store
                // payment): then the reopened cart starts afresh.
                State::Success if !cart_reopened(shop, cart_id).await? => {
                    return Ok(Ok(status_of(&running)));
                }
                State::Success | State::Failed => {}
                _ if running.failure.is_some() => {
                    match cancel_with(shop, &running.id, FailureReason::CanceledByCustomer).await {
                        Ok(ProcessStatus::Succeeded(order)) => {
                            return Ok(Ok(ProcessStatus::Succeeded(order)));
                        }
                        Ok(_) => {}
                        Err(AppError::Unavailable(_)) => {
                            return Ok(Err(StartRefused::PreviousAttemptBusy));
                        }
                        Err(e) => return Err(e),
                    }
                }
                _ => return refresh(shop, &running.id).await.map(Ok),
            }
        }
        let cart = match read.take() {
            Some(cart) => cart,
            None => shop.store.cart(cart_id).await?.ok_or(AppError::NotFound)?,
        };
        let Some(mut details) = cart.checkout.clone() else {
            return Ok(Err(StartRefused::CartChanged));
        };
        if cart.version != reviewed_version || !cart.is_open() {
            return Ok(Err(StartRefused::CartChanged));
        }
        // The registration is taken only now that no older attempt of the
        // cart can queue events any more.
        let registration_id =
            match registration::ensure(shop, cart_id, details.email.as_str()).await? {
                Ok(id) => id,
                Err(problem) => return Ok(Err(StartRefused::Registration(problem))),
            };
        // A fresh idempotency key for every attempt, also on the cart's
        // payment selection.
        let key = new_idempotency_key();
        if let Some(payment) = details.payment.as_mut() {
            payment.renew_key(key.clone());
        }
        let mut process = Process::new(new_id(), cart_id.into(), key);
        process.context.registration_id = registration_id;
        // Saving the new key bumps the cart's version once more: that
        // version, and no other, is what the process may freeze.
        process.context.reviewed_version = Some(reviewed_version + 1);
        let owner = new_holder();
        match shop
            .store
            .begin_attempt(&process, reviewed_version, &details, (&owner, shop.lease()))
            .await
        {
            Ok(()) => return run_leased(shop, process, &owner).await.map(Ok),
            // A concurrent click started one, or the cart changed: the
            // next round tells which.
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err(StartRefused::CartChanged))
}

/// The latest process of a cart, moved on as far as it goes now.
pub async fn refresh_cart(shop: &Shop, cart_id: &str) -> AppResult<Option<ProcessStatus>> {
    match shop.store.latest_process_of_cart(cart_id).await? {
        None => Ok(None),
        Some(p) if p.state == State::Success && cart_reopened(shop, cart_id).await? => Ok(None),
        Some(p) if p.state.is_final() => Ok(Some(status_of(&p))),
        Some(p) => refresh(shop, &p.id).await.map(Some),
    }
}

/// Cancels the latest process of a cart if it still runs (the shopper's
/// cancel button); `None` when nothing runs.
pub async fn cancel_cart(shop: &Shop, cart_id: &str) -> AppResult<Option<ProcessStatus>> {
    match shop.store.latest_process_of_cart(cart_id).await? {
        Some(process) if !process.state.is_final() => cancel(shop, &process.id).await.map(Some),
        _ => Ok(None),
    }
}

/// A cart that is open although its latest process succeeded: the order
/// was cancelled afterwards and the cart given back.
async fn cart_reopened(shop: &Shop, cart_id: &str) -> AppResult<bool> {
    let cart = shop.store.cart(cart_id).await?;
    Ok(cart.is_some_and(|c| c.status == crate::domain::cart::CartStatus::Open))
}

/// Steps a process as far as it goes now. If another request holds the
/// lease, waits for it a while and then reports where the process stands.
pub async fn refresh(shop: &Shop, id: &str) -> AppResult<ProcessStatus> {
    let owner = new_holder();
    let Some(process) = take_lease(shop, id, &owner).await? else {
        let process = shop.store.process(id).await?.ok_or(AppError::NotFound)?;
        return Ok(status_of(&process));
    };
    run_leased(shop, process, &owner).await
}

/// Steps a process whose lease `owner` holds, then lets the lease go.
async fn run_leased(shop: &Shop, process: Process, owner: &str) -> AppResult<ProcessStatus> {
    let id = process.id.clone();
    let stepped = step(shop, process, owner, false).await;
    let_go(shop, &id, owner, stepped).await
}

/// Releases the lease after a pass, unless the pass lost it or left the
/// process final (a final process's lease nobody can take).
async fn let_go(
    shop: &Shop,
    id: &str,
    owner: &str,
    stepped: AppResult<(ProcessStatus, bool)>,
) -> AppResult<ProcessStatus> {
    if !matches!(stepped, Ok((_, false))) {
        shop.store.release_process_lease(id, owner).await?;
    }
    stepped.map(|(status, _)| status)
}

/// Cancels a running process (the shopper's cancel button): rolled back,
/// the cart given back, Failed with CanceledByCustomer.
pub async fn cancel(shop: &Shop, id: &str) -> AppResult<ProcessStatus> {
    cancel_with(shop, id, FailureReason::CanceledByCustomer).await
}

async fn cancel_with(shop: &Shop, id: &str, reason: FailureReason) -> AppResult<ProcessStatus> {
    let owner = new_holder();
    let Some(mut process) = take_lease(shop, id, &owner).await? else {
        let process = shop.store.process(id).await?.ok_or(AppError::NotFound)?;
        return Ok(status_of(&process));
    };
    let result = async {
        if coordinator::fail_with(&mut process, reason) {
            // Saved before any rollback runs: a node dying after the first
            // one must not leave the process looking alive with part of it
            // undone.
            if !shop
                .store
                .save_process(&process, &owner, shop.lease())
                .await?
            {
                return Err(AppError::Unavailable(
                    "the payment could not be cancelled yet".into(),
                ));
            }
            process.version += 1;
        }
        step(shop, process, &owner, true).await
    }
    .await;
    let_go(shop, id, &owner, result).await
}

/// The first pause of a request waiting for a process's lease: a step is
/// often done within milliseconds.
const FIRST_LEASE_PAUSE: Duration = Duration::from_millis(5);
/// Pauses double up to this, so a long wait costs few queries.
const LONGEST_LEASE_PAUSE: Duration = Duration::from_millis(200);

/// Takes the lease, waiting while another holder steps the process.
/// `None` when the process is final or the wait ran out.
async fn take_lease(shop: &Shop, id: &str, owner: &str) -> AppResult<Option<Process>> {
    let deadline = tokio::time::Instant::now() + shop.lease_wait();
    let mut pause = FIRST_LEASE_PAUSE;
    loop {
        if shop
            .store
            .take_process_lease(id, owner, shop.lease())
            .await?
        {
            return Ok(shop.store.process(id).await?);
        }
        let process = shop.store.process(id).await?.ok_or(AppError::NotFound)?;
        let now = tokio::time::Instant::now();
        if process.state.is_final() || now >= deadline {
            return Ok(None);
        }
        // The last try comes at the deadline, not a pause after it.
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_LEASE_PAUSE);
    }
}

/// Runs states until the process is final, rests, or cannot go on now.
/// A pending failure is unwound first, one rollback at a time.
/// Also tells whether `owner` still holds a lease worth releasing: not
/// once it was lost, nor on a final process.
async fn step(
    shop: &Shop,
    mut process: Process,
    owner: &str,
    cancelling: bool,
) -> AppResult<(ProcessStatus, bool)> {
    let cart_id = process.cart_id.clone();
    let registration_id = process.context.registration_id.clone();
    let process_id = process.id.clone();
    let fence = crate::store::processes::Fence {
        process_id: &process_id,
        holder: owner,
        carries: None,
        records: None,
    };
    let mut ports = ShopPorts::new(shop, &cart_id, registration_id.as_deref(), fence);
    let mut moved = false;
    let mut lost_lease = false;
    while !process.state.is_final() {
        let turn = coordinator::turn(&mut process, moved, &mut ports).await;
        process.version += ports.take_landed();
        if turn.moved() {
            crate::crash::point("placeorder.step_done");
        }
        log_turn(&process.id, &turn);
        if ports.lost_lease() {
            lost_lease = true;
            break;
        }
        if !turn.changed() {
            break;
        }
        moved |= turn.moved();
        // Saved final with the order that ended it.
        let finished = ports.take_finished();
        if !turn.saves() || finished {
            continue;
        }
        if travels_with_next_change(&turn, &process) {
            ports.carry(&process)?;
            continue;
        }
        if ports.records_payment() {
            // A payment waiting to be recorded goes with this save.
            ports.carry(&process)?;
            match ports.flush().await {
                Ok(()) => {
                    process.version += ports.take_landed();
                    continue;
                }
                Err(_) if ports.lost_lease() => {
                    lost_lease = true;
                    break;
                }
                Err(e) => return Err(AppError::Unavailable(e.to_string())),
            }
        }
        ports.drop_pending();
        if !shop
            .store
            .save_process(&process, owner, shop.lease())
            .await?
        {
            lost_lease = true;
            break;
        }
        process.version += 1;
    }
    // The pass ends with a save still waiting (a step must wait, or the
    // change it waited for was not made): it is written now.
    if !lost_lease {
        match ports.flush().await {
            Ok(()) => process.version += ports.take_landed(),
            Err(_) if ports.lost_lease() => lost_lease = true,
            Err(e) => return Err(AppError::Unavailable(e.to_string())),
        }
    }
    if lost_lease {
        tracing::warn!(process = %process.id, "lost the lease; another node goes on");
    }
    // A process is final here only once saved so.
    let holds_lease = !lost_lease && !process.state.is_final();
    if cancelling && !process.state.is_final() {
        return Err(AppError::Unavailable(
            "the payment could not be cancelled yet".into(),
        ));
    }
    if lost_lease {
        // The copy in hand was never saved: it may offer a payment the
        // other node is rolling back. Where the process stands is stored.
        let stored = shop.store.process(&process.id).await?;
        return Ok((status_of(stored.as_ref().unwrap_or(&process)), false));
    }
    Ok((status_of(&process), holds_lease))
}

/// Whether a step's save may wait for the next change a step makes in the
/// store and be written in that change's transaction: a step to a state
/// that goes on at once, of a process not failing. Until then the stored
/// process stands at an earlier step. Every step runs again to the same
/// effect after a crash (a crash between a change and its save is the
/// same case), and a failure from outside finds the stored step's
/// undo for whatever the steps since changed (`unsaved_rollback`), since
/// every call to a gateway that holds payments outside the shop writes
/// the waiting save first (`ShopPorts::ready`); a cash payment's record
/// carries it. Resting and final states, failures and
/// rollbacks are saved at once.
fn travels_with_next_change(turn: &Turn, process: &Process) -> bool {
    matches!(turn, Turn::Stepped { to, .. } if !to.is_resting() && !to.is_final())
        && process.failure.is_none()
}

fn log_turn(id: &str, turn: &Turn) {
    match turn {
        Turn::Stepped { from, to } => tracing::debug!(process = %id, %from, next = %to, "step"),
        Turn::Fails { from, reason } => {
            tracing::info!(process = %id, state = %from, reason = reason.name(), "process fails");
        }
        Turn::Broken { from, why } => {
            tracing::error!(process = %id, state = %from, %why, "process fails: it cannot go on");
        }
        // Not a failure: the step runs again on the next refresh or sweep.
        Turn::MustWait { from, error } => {
            tracing::warn!(process = %id, state = %from, %error, "step must wait");
        }
        Turn::RollbackMustWait { error } => {
            tracing::warn!(process = %id, %error, "rollback must wait");
        }
        Turn::RolledBack | Turn::Unwound | Turn::Rests => {}
    }
}
