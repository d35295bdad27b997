//! The coordinator's decisions, free of I/O: what the loop does next with a
//! process held under its lease (run its state, or one rollback), where a
//! process stands for the checkout pages, and what a provider's report
//! about a payment leads to. The application's loop and the model check
//! both run these same functions.

use super::{FailureReason, PlacedOrder, PortError, Ports, Process, State, Transition};
use crate::domain::payment::{CustomerAction, PaymentStatus};

/// Where a process stands, as the checkout pages need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Another request or node is stepping it right now.
    Running,
    /// The shopper must act at the provider.
    Action(CustomerAction),
    /// The payment goes on without the shopper.
    Waiting,
    Succeeded(PlacedOrder),
    Failed(FailureReason),
    /// The attempt failed or was cancelled; undoing it waits for a service.
    RollingBack,
}

pub fn status_of(process: &Process) -> ProcessStatus {
    // A recorded failure is never offered to the shopper again, even
    // while its rollback waits for the provider.
    if process.failure.is_some() && !process.state.is_final() {
        return ProcessStatus::RollingBack;
    }
    match process.state {
        State::Success => match &process.context.order {
            Some(order) => ProcessStatus::Succeeded(order.clone()),
            None => ProcessStatus::Failed(FailureReason::Error("success without an order".into())),
        },
        State::Failed => ProcessStatus::Failed(
            process
                .failure
                .clone()
                .unwrap_or(FailureReason::Error("failed without a reason".into())),
        ),
        State::Redirect => match &process.context.action {
            Some(action) => ProcessStatus::Action(action.clone()),
            None => ProcessStatus::Waiting,
        },
        State::WaitForCustomer => ProcessStatus::Waiting,
        _ => ProcessStatus::Running,
    }
}

/// Marks a running process as failing for `reason` (the shopper's cancel,
/// an older attempt given up), unless it already fails or is final. The
/// state it stands in may have made its change in a run that was never
/// saved; that is undone too. `true`: the process changed, and must be
/// saved before its first rollback runs.
pub fn fail_with(process: &mut Process, reason: FailureReason) -> bool {
    if process.failure.is_some() || process.state.is_final() {
        return false;
    }
    if let Some(rollback) = process.state.unsaved_rollback(&process.context) {
        process.context.push_rollback(rollback);
    }
    process.failure = Some(reason);
    true
}

/// What one turn of the coordinator's loop did to the process in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The state ran and leads to `to`.
    Stepped { from: State, to: State },
    /// The state failed the process: its rollbacks run next.
    Fails { from: State, reason: FailureReason },
    /// The state can never go on (unreadable data): failed with Error.
    Broken { from: State, why: String },
    /// One rollback ran.
    RolledBack,
    /// Every rollback ran: the process is Failed.
    Unwound,
    /// A service did not answer: the state runs again on the next refresh
    /// or sweep. Nothing to save.
    MustWait { from: State, error: PortError },
    /// A rollback could not run yet; it stays recorded. Nothing to save.
    RollbackMustWait { error: PortError },
    /// The process reached a resting state in an earlier turn: the loop
    /// stops until the next refresh asks the provider again.
    Rests,
}

impl Turn {
    /// Whether the process changed and must be saved before the next turn;
    /// otherwise the loop stops.
    pub fn saves(&self) -> bool {
        !matches!(
            self,
            Self::MustWait { .. } | Self::RollbackMustWait { .. } | Self::Rests
        )
    }

    /// Whether a state led on (so a resting state reached now is not run
    /// again in the same pass).
    pub fn moved(&self) -> bool {
        matches!(self, Self::Stepped { .. })
    }
}

/// One turn of the loop for a process that is not final: a pending failure
/// unwinds one rollback (the last recorded first); otherwise the state
/// runs, unless it rests and the pass already `moved` it there.
pub async fn turn(process: &mut Process, moved: bool, ports: &mut dyn Ports) -> Turn {
    if process.failure.is_some() {
        return match process.context.rollbacks.pop() {
            Some(rollback) => match rollback.run(ports).await {
                Ok(()) => Turn::RolledBack,
                Err(error) => Turn::RollbackMustWait { error },
            },
            // The next attempt gets a new key when it begins; renewing it
            // here would change the cart the shopper reviews.
            None => {
                process.state = State::Failed;
                Turn::Unwound
            }
        };
    }
    if moved && process.state.is_resting() {
        return Turn::Rests;
    }
    let from = process.state;
    match from.run(&mut process.context, ports).await {
        Ok(Transition::Next(to)) => {
            process.state = to;
            Turn::Stepped { from, to }
        }
        Ok(Transition::Fail(reason)) => {
            process.failure = Some(reason.clone());
            Turn::Fails { from, reason }
        }
        Err(PortError::Broken(why)) => {
            process.failure = Some(FailureReason::Error(why.clone()));
            Turn::Broken { from, why }
        }
        Err(error) => Turn::MustWait { from, error },
    }
}

/// What a provider's report about a payment leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// The payment belongs to an attempt that was replaced: it cannot touch
    /// the newer one.
    StaleAttempt,
    /// The process still runs: refresh it, so it asks the provider.
    Refresh,
    /// The order waits on hold for its money: ask the provider and settle
    /// or cancel it.
    SettleWaitingOrder,
    /// Nothing left to do.
    Nothing,
}

/// Decides a report about the payment of `payment_process` (of the cart
/// whose newest process is `latest`), the payment standing at `payment`.
pub fn intake(latest: Option<&Process>, payment_process: &str, payment: PaymentStatus) -> Intake {
    match latest {
        Some(process) if process.id == payment_process => {
            if !process.state.is_final() {
                Intake::Refresh
            } else if process.state == State::Success && payment == PaymentStatus::Pending {
                Intake::SettleWaitingOrder
            } else {
                Intake::Nothing
            }
        }
        _ => Intake::StaleAttempt,
    }
}
