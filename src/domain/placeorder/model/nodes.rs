//! The nodes of the model and everything that can happen next: a node
//! begins an errand (the shopper's refresh or return, the sweeper, the
//! shopper's cancel, a webhook), takes the lease, runs one coordinator turn
//! (the domain's own code, against the in-memory world), saves, finishes;
//! or a node crashes, a lease expires, the provider moves the payment.
//! The node's part mirrors `application::placeorder` (`refresh`,
//! `cancel_with`, `step`) and `payment_events::apply`.

use super::super::coordinator::{self, Intake, ProcessStatus, intake, status_of};
use super::super::fake::ready as now;
use super::super::{FailureReason, Process};
use super::world::{AtProvider, Holder, Shop, World};
use std::fmt;

pub const NODES: usize = 2;

/// Why a node steps the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errand {
    /// The shopper's refresh or return, the sweeper, the reconciliation.
    Refresh,
    /// The shopper's cancel link.
    Cancel,
    /// A webhook delivery of this event.
    Webhook(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Next: a turn of the loop (the copy is saved, or just loaded).
    Turn,
    /// Next: the save of what the last turn did.
    Save,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub errand: Errand,
    pub phase: Phase,
    /// The node's copy of the process, held under the lease.
    pub process: Process,
    pub moved: bool,
    /// The save found another holder or version: the copy is stale.
    pub lost_lease: bool,
    /// The copy is what the store held when it was loaded or last saved.
    pub copy_stored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Restarts so far: a restarted node is another lease holder.
    pub life: u8,
    pub task: Option<Task>,
}

/// Everything the model knows at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub world: World,
    pub nodes: [Node; NODES],
    pub crashes: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Begin(usize, Errand),
    Advance(usize),
    Crash(usize),
    ExpireLease,
    Provider(AtProvider),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Begin(n, errand) => write!(f, "node {n} begins {errand:?}"),
            Self::Advance(n) => write!(f, "node {n} advances"),
            Self::Crash(n) => write!(f, "node {n} crashes"),
            Self::ExpireLease => write!(f, "the lease expires"),
            Self::Provider(to) => write!(f, "the provider moves the payment to {to:?}"),
        }
    }
}

impl Action {
    pub fn is_crash(self) -> bool {
        matches!(self, Self::Crash(_))
    }
}

impl System {
    /// One line on where everything stands, for traces.
    pub fn summary(&self) -> String {
        let world = &self.world;
        let process = &world.stored.process;
        let mut text = format!(
            "stored {:?} v{}{} lease {}; ",
            process.state,
            process.version,
            match &process.failure {
                Some(reason) => format!(" failing ({})", reason.name()),
                None => String::new(),
            },
            match world.stored.lease {
                None => "free".into(),
                Some(lease) => format!(
                    "node {}/{}{}",
                    lease.holder.node,
                    lease.holder.life,
                    if lease.expired { " expired" } else { "" }
                ),
            },
        );
        for (n, node) in self.nodes.iter().enumerate() {
            match &node.task {
                None => text.push_str(&format!("node {n} idle; ")),
                Some(task) => text.push_str(&format!(
                    "node {n} {:?} {:?} at {:?}; ",
                    task.errand, task.phase, task.process.state
                )),
            }
        }
        text.push_str(&format!(
            "provider {:?}, cart {:?}, orders {:?}",
            world.provider,
            world.cart.status,
            world.orders.iter().map(|o| o.status).collect::<Vec<_>>()
        ));
        text
    }

    pub fn new(world: World) -> Self {
        Self {
            world,
            nodes: Default::default(),
            crashes: 0,
        }
    }

    fn holder(&self, node: usize) -> Holder {
        Holder {
            node: node as u8,
            life: self.nodes[node].life,
        }
    }

    /// Everything that may happen next.
    pub fn actions(&self) -> Vec<Action> {
        let mut next = Vec::new();
        let running = !self.world.stored.process.state.is_final();
        for (n, node) in self.nodes.iter().enumerate() {
            match &node.task {
                None => {
                    // `refresh_cart` and `cancel_cart` leave a final process be.
                    if running {
                        next.push(Action::Begin(n, Errand::Refresh));
                        // The shopper cancels once.
                        if !self.world.cancelled {
                            next.push(Action::Begin(n, Errand::Cancel));
                        }
                    }
                    for (i, webhook) in self.world.webhooks.iter().enumerate() {
                        if webhook.copies > 0 {
                            next.push(Action::Begin(n, Errand::Webhook(i)));
                        }
                    }
                }
                Some(_) => {
                    next.push(Action::Advance(n));
                    if self.crashes < self.world.config.max_crashes {
                        next.push(Action::Crash(n));
                    }
                }
            }
        }
        if let Some(lease) = self.world.stored.lease
            && !lease.expired
        {
            let holder_runs = self.nodes[lease.holder.node as usize].life == lease.holder.life;
            if self.world.config.paused_holders || !holder_runs {
                next.push(Action::ExpireLease);
            }
        }
        let offered = self.world.offered;
        match self.world.provider {
            Some(AtProvider::Open) => {
                if offered {
                    next.push(Action::Provider(AtProvider::Waiting));
                    next.push(Action::Provider(AtProvider::Authorized));
                }
                // Declined, or expired unpaid.
                next.push(Action::Provider(AtProvider::Declined));
            }
            Some(AtProvider::Waiting) => {
                next.push(Action::Provider(AtProvider::Authorized));
                next.push(Action::Provider(AtProvider::Declined));
            }
            _ => {}
        }
        next
    }

    pub fn apply(&self, action: Action) -> System {
        let mut next = self.clone();
        match action {
            Action::Begin(n, errand) => next.begin(n, errand),
            Action::Advance(n) => next.advance(n),
            Action::Crash(n) => {
                let node = &mut next.nodes[n];
                node.task = None;
                node.life += 1;
                next.crashes += 1;
            }
            Action::ExpireLease => {
                if let Some(lease) = next.world.stored.lease.as_mut() {
                    lease.expired = true;
                }
            }
            Action::Provider(to) => next.world.provider_moves(to),
        }
        next
    }

    fn begin(&mut self, n: usize, errand: Errand) {
        match errand {
            Errand::Cancel => self.world.cancelled = true,
            Errand::Refresh => {}
            Errand::Webhook(i) => {
                self.world.webhooks[i].copies -= 1;
                // `payment_events::apply`: unknown payments and events seen
                // before change nothing; the rest go where `intake` says.
                let Some(payment) = self.world.payment else {
                    return;
                };
                if self.world.webhooks[i].seen {
                    return;
                }
                let stored = &self.world.stored.process;
                match intake(Some(stored), &stored.id, payment.status) {
                    Intake::Refresh => {}
                    // No payment of the model waits on hold for its money.
                    Intake::SettleWaitingOrder | Intake::Nothing | Intake::StaleAttempt => {
                        self.world.webhooks[i].seen = true;
                        return;
                    }
                }
            }
        }
        // `refresh` and `cancel_with`: the lease first.
        if !self.world.take_lease(self.holder(n)) {
            // Busy elsewhere (the wait for the lease ran out) or final.
            let status = status_of(&self.world.stored.process);
            self.finish(errand, status, true);
            return;
        }
        let mut process = self.world.stored.process.clone();
        // `cancel_with` saves the failure before the first rollback.
        let failing = errand == Errand::Cancel
            && coordinator::fail_with(&mut process, FailureReason::CanceledByCustomer);
        self.nodes[n].task = Some(Task {
            errand,
            phase: if failing { Phase::Save } else { Phase::Turn },
            copy_stored: !failing,
            process,
            moved: false,
            lost_lease: false,
        });
    }

    /// The next part of `step`: a turn (the domain's own), or the save
    /// after it; the errand ends where `step` would return.
    fn advance(&mut self, n: usize) {
        let holder = self.holder(n);
        let Some(mut task) = self.nodes[n].task.take() else {
            return;
        };
        let go_on = match task.phase {
            Phase::Turn if task.process.state.is_final() => false,
            Phase::Turn => {
                let mut shop = Shop {
                    world: &mut self.world,
                    holder,
                };
                let turn = now(coordinator::turn(&mut task.process, task.moved, &mut shop));
                if turn.changed() {
                    task.copy_stored = false;
                    task.moved |= turn.moved();
                    if turn.saves() {
                        task.phase = Phase::Save;
                    }
                }
                turn.changed()
            }
            Phase::Save => {
                if self.world.save_process(&task.process, holder) {
                    task.process.version += 1;
                    task.copy_stored = true;
                    task.phase = Phase::Turn;
                    !task.process.state.is_final()
                } else {
                    task.lost_lease = true;
                    false
                }
            }
        };
        if go_on {
            self.nodes[n].task = Some(task);
        } else {
            self.end(holder, task);
        }
    }

    /// The end of `step` and `refresh`: the lease released (unless lost,
    /// or the process is final and nobody can take it), the answer given.
    fn end(&mut self, holder: Holder, task: Task) {
        if !task.lost_lease && !task.process.state.is_final() {
            self.world.release_lease(holder);
        }
        let process = &task.process;
        let (status, stored) = if task.errand == Errand::Cancel && !process.state.is_final() {
            // "The payment could not be cancelled yet": an error page.
            (ProcessStatus::RollingBack, true)
        } else if task.lost_lease {
            // `step` reports the stored process, not its stale copy.
            (status_of(&self.world.stored.process), true)
        } else {
            (status_of(process), task.copy_stored)
        };
        self.finish(task.errand, status, stored);
    }

    /// The errand's answer: what the shopper is shown, or whether the
    /// webhook counts as applied. `stored`: the answer comes from the
    /// process as the store held it (a failure saved there is never lost),
    /// not from a copy that was never saved.
    fn finish(&mut self, errand: Errand, status: ProcessStatus, stored: bool) {
        if let ProcessStatus::Action(_) = status {
            self.world.offered = true;
            if !stored {
                self.world.offered_unsaved = true;
            }
        }
        if let Errand::Webhook(i) = errand
            && status != ProcessStatus::Running
        {
            self.world.webhooks[i].seen = true;
        }
    }
}
