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
    /// Whether the process changed in memory; otherwise the loop stops.
    pub fn changed(&self) -> bool {
        !matches!(
            self,
            Self::MustWait { .. } | Self::RollbackMustWait { .. } | Self::Rests
        )
    }

    /// Whether the change must be saved before the next turn. A step from
    /// a state that only reads to another such state is not: after a
    /// crash the process runs from the last saved state to the same end.
    pub fn saves(&self) -> bool {
        match self {
            Self::Stepped { from, to } => {
                from.changes_outside() || to.changes_outside() || to.is_resting() || to.is_final()
            }
            other => other.changed(),
        }
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

#[cfg(test)]
mod tests {
    use super::super::fake::{FakePorts, frozen, ready as now};
    use super::super::{OrderDraft, Ports, Rollback};
    use super::*;
    use crate::domain::order::OrderStatus;

    fn process_in(state: State, ports: &FakePorts) -> Process {
        let ctx = frozen(ports, true);
        let mut process = Process::new(
            ctx.process_id.clone(),
            ctx.cart_id.clone(),
            ctx.idempotency_key.clone(),
        );
        process.context = ctx;
        process.state = state;
        process
    }

    #[test]
    fn a_cancel_in_place_order_also_undoes_an_order_placed_by_a_lost_run() {
        let mut ports = FakePorts::default();
        let mut process = process_in(State::PlaceOrder, &ports);
        // A run placed the order, and its node died before saving the step.
        let draft = OrderDraft {
            cart_id: process.cart_id.clone(),
            details: process.context.details.clone().unwrap(),
            status: OrderStatus::PendingPayment,
            expected_total: process.context.amount.unwrap(),
            payment_key: None,
            registration_id: None,
            settlement: None,
        };
        let order = now(ports.place_order(&draft)).unwrap();

        assert!(fail_with(&mut process, FailureReason::CanceledByCustomer));
        assert_eq!(
            process.context.rollbacks.last(),
            Some(&Rollback::CancelOrderOfCart {
                cart_id: process.cart_id.clone()
            })
        );
        while process.state != State::Failed {
            assert!(now(turn(&mut process, false, &mut ports)).saves());
        }
        assert_eq!(ports.cancelled_orders, [order.id]);
        assert_eq!(ports.cancelled.len(), 1, "the payment is voided too");
    }

    #[test]
    fn a_cancel_with_nothing_placed_cancels_no_order() {
        let mut ports = FakePorts::default();
        let mut process = process_in(State::PlaceOrder, &ports);
        assert!(fail_with(&mut process, FailureReason::CanceledByCustomer));
        while process.state != State::Failed {
            now(turn(&mut process, false, &mut ports));
        }
        assert!(ports.cancelled_orders.is_empty());
    }

    #[test]
    fn only_steps_next_to_an_outside_change_are_saved() {
        let step = |from, to| Turn::Stepped { from, to };
        assert!(!step(State::New, State::PrepareCart).saves());
        assert!(!step(State::ValidateCart, State::ValidatePaymentSelection).saves());
        assert!(step(State::ValidatePaymentSelection, State::CreatePayment).saves());
        assert!(step(State::CreatePayment, State::ValidatePayment).saves());
        assert!(step(State::ValidatePayment, State::Redirect).saves());
        assert!(step(State::CompletePayment, State::Success).saves());
        assert!(step(State::New, State::PrepareCart).changed());
        assert!(Turn::RolledBack.saves());
        assert!(!Turn::Rests.changed());
    }

    #[test]
    fn a_final_or_failing_process_is_not_failed_again() {
        let ports = FakePorts::default();
        let mut done = process_in(State::Success, &ports);
        assert!(!fail_with(&mut done, FailureReason::CanceledByCustomer));
        let mut failing = process_in(State::Redirect, &ports);
        failing.failure = Some(FailureReason::Error("x".into()));
        let before = failing.clone();
        assert!(!fail_with(&mut failing, FailureReason::CanceledByCustomer));
        assert_eq!(failing, before);
    }
}
