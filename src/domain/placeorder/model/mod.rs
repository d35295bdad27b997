//! A model check of the place-order protocol: every interleaving of two
//! nodes stepping one process (the domain's own states and coordinator
//! turns, over an in-memory store and provider), with webhooks delivered
//! up to twice in any order, leases expiring, nodes crashing at any step,
//! explored breadth first. Safety invariants hold in every reachable
//! state; from every reachable state the process can still end.
//! See `diagram.md` for what the model leaves out.

mod nodes;
mod world;

use crate::domain::cart::CartStatus;
use nodes::{Action, System};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};
use world::{AtProvider, Config, Flaw, World};

/// A broken invariant and the way there.
#[derive(Debug)]
pub struct Violation {
    pub invariant: &'static str,
    pub trace: Vec<Action>,
}

#[derive(Debug, Default)]
pub struct Explored {
    pub states: usize,
    pub transitions: usize,
    pub max_depth: usize,
}

/// Two states are the same when everything in them is (`Debug` spells it
/// all out), except the process versions: a save only asks whether the
/// copy's version is the stored one, so a copy counts as current, behind
/// or ahead. Otherwise every refresh of a resting process would be a new
/// state.
fn fingerprint(system: &System) -> u64 {
    let mut system = system.clone();
    let base = system.world.stored.process.version;
    system.world.stored.process.version = 0;
    for task in system.nodes.iter_mut().filter_map(|n| n.task.as_mut()) {
        task.process.version = (task.process.version - base).signum();
    }
    let mut hasher = DefaultHasher::new();
    format!("{system:?}").hash(&mut hasher);
    hasher.finish()
}

/// What must hold in every reachable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    OneLiveOrder,
    NoOfferWhileRollingBack,
    FinalStaysFinal,
    MoneyHasAnOrder,
    SuccessHasOneOrder,
    FailedLeavesNoOrder,
    FailedGivesCartBack,
}

impl Invariant {
    pub const ALL: [Self; 7] = [
        Self::OneLiveOrder,
        Self::NoOfferWhileRollingBack,
        Self::FinalStaysFinal,
        Self::MoneyHasAnOrder,
        Self::SuccessHasOneOrder,
        Self::FailedLeavesNoOrder,
        Self::FailedGivesCartBack,
    ];

    /// The ones about the process row alone, which the lease and the save's
    /// compare-and-swap keep by themselves.
    pub const ROW: [Self; 3] = [
        Self::OneLiveOrder,
        Self::NoOfferWhileRollingBack,
        Self::FinalStaysFinal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::OneLiveOrder => "at most one live order per cart",
            Self::NoOfferWhileRollingBack => {
                "a rolled-back process never offers the shopper a payment"
            }
            Self::FinalStaysFinal => "a final process stays final",
            Self::MoneyHasAnOrder => "a captured payment has exactly one order or is being voided",
            Self::SuccessHasOneOrder => "a successful process has exactly one live order",
            Self::FailedLeavesNoOrder => "a failed process leaves no live order",
            Self::FailedGivesCartBack => "a failed process gives its cart back",
        }
    }

    fn holds(self, system: &System) -> bool {
        let world = &system.world;
        let process = &world.stored.process;
        match self {
            Self::OneLiveOrder => world.live_orders() <= 1,
            // `status_of` never offers a failing process; the shopper must
            // not be shown a copy the store may be rolling back either.
            Self::NoOfferWhileRollingBack => !world.offered_unsaved,
            Self::FinalStaysFinal => world.ended.is_none_or(|ended| ended == process.state),
            // Money reserved at the provider belongs to exactly one order
            // once the process ended, or is being voided: the failing
            // process still has the void to run.
            Self::MoneyHasAnOrder => {
                if world.provider != Some(AtProvider::Authorized) {
                    return true;
                }
                let with_payment = world.orders.iter().filter(|o| o.live() && o.with_payment);
                match (process.state.is_final(), &process.failure) {
                    (true, _) => {
                        with_payment.count() == 1
                            && world.payment.is_some_and(|p| p.order.is_some())
                    }
                    (false, Some(_)) => process
                        .context
                        .rollbacks
                        .iter()
                        .any(|r| matches!(r, super::Rollback::CancelPayment(_))),
                    (false, None) => true,
                }
            }
            Self::SuccessHasOneOrder => {
                process.state != super::State::Success || world.live_orders() == 1
            }
            Self::FailedLeavesNoOrder => {
                process.state != super::State::Failed || world.live_orders() == 0
            }
            Self::FailedGivesCartBack => {
                process.state != super::State::Failed || world.cart.status == CartStatus::Open
            }
        }
    }
}

/// Liveness, checked over the whole graph.
pub const ENDS: &str = "every process ends in Success or Failed once the provider answers";

/// Breadth first over every reachable state: the first broken safety
/// invariant, or a state from which the process can no longer end (using
/// no further crashes).
pub fn check(config: Config, invariants: &[Invariant]) -> Result<Explored, Box<Violation>> {
    let initial = System::new(World::new(config));
    let mut index: HashMap<u64, u32> = HashMap::new();
    // Per state: how it was first reached, and its depth.
    let mut parent: Vec<Option<(u32, Action)>> = Vec::new();
    let mut depth: Vec<u32> = Vec::new();
    let mut ended: Vec<bool> = Vec::new();
    // Edges without crashes, backwards: who reaches whom.
    let mut reached_from: Vec<Vec<u32>> = Vec::new();
    let mut explored = Explored::default();
    let mut frontier = std::collections::VecDeque::new();

    index.insert(fingerprint(&initial), 0);
    parent.push(None);
    depth.push(0);
    ended.push(false);
    reached_from.push(Vec::new());
    frontier.push_back((0u32, initial));

    let trace_to = |parent: &[Option<(u32, Action)>], mut at: u32| {
        let mut trace = Vec::new();
        while let Some((from, action)) = parent[at as usize] {
            trace.push(action);
            at = from;
        }
        trace.reverse();
        trace
    };

    while let Some((at, system)) = frontier.pop_front() {
        if std::env::var_os("MODEL_PROGRESS").is_some() && at % 100_000 == 0 {
            eprintln!(
                "{at} states, depth {}, frontier {}",
                depth[at as usize],
                frontier.len()
            );
        }
        if let Some(invariant) = invariants.iter().find(|i| !i.holds(&system)) {
            return Err(Box::new(Violation {
                invariant: invariant.name(),
                trace: trace_to(&parent, at),
            }));
        }
        if config
            .depth_limit
            .is_some_and(|limit| depth[at as usize] >= limit)
        {
            continue;
        }
        for action in system.actions() {
            explored.transitions += 1;
            let next = system.apply(action);
            let to = match index.entry(fingerprint(&next)) {
                Entry::Occupied(seen) => *seen.get(),
                Entry::Vacant(slot) => {
                    let to = parent.len() as u32;
                    slot.insert(to);
                    parent.push(Some((at, action)));
                    let d = depth[at as usize] + 1;
                    depth.push(d);
                    explored.max_depth = explored.max_depth.max(d as usize);
                    ended.push(next.world.stored.process.state.is_final());
                    reached_from.push(Vec::new());
                    frontier.push_back((to, next));
                    to
                }
            };
            if !action.is_crash() {
                reached_from[to as usize].push(at);
            }
        }
    }
    explored.states = parent.len();

    // Liveness: every state reaches an ended one without crashing (unless
    // the search was cut off at a depth, leaving states unexplored).
    if config.depth_limit.is_some() {
        return Ok(explored);
    }
    let mut can_end = ended.clone();
    let mut work: Vec<u32> = (0..ended.len() as u32)
        .filter(|&s| ended[s as usize])
        .collect();
    while let Some(s) = work.pop() {
        for &from in &reached_from[s as usize] {
            if !can_end[from as usize] {
                can_end[from as usize] = true;
                work.push(from);
            }
        }
    }
    if let Some(stuck) = can_end.iter().position(|&c| !c) {
        return Err(Box::new(Violation {
            invariant: ENDS,
            trace: trace_to(&parent, stuck as u32),
        }));
    }
    Ok(explored)
}

/// Prints a violation so the way there can be read: every action and
/// where it left everything.
pub fn report(config: Config, violation: &Violation) -> String {
    let mut text = format!("invariant broken: {}\n", violation.invariant);
    let mut system = System::new(World::new(config));
    text.push_str(&format!("      {}\n", system.summary()));
    for (i, &action) in violation.trace.iter().enumerate() {
        system = system.apply(action);
        text.push_str(&format!(
            "{:3}. {action}\n      {}\n",
            i + 1,
            system.summary()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(early_place_order: bool) -> Config {
        Config {
            early_place_order,
            max_crashes: 1,
            deliveries: 2,
            paused_holders: false,
            depth_limit: None,
            flaw: None,
        }
    }

    fn passes(config: Config, invariants: &[Invariant]) -> Explored {
        match check(config, invariants) {
            Ok(explored) => {
                println!(
                    "model check ({config:?}): {} states explored, {} transitions, max depth {}",
                    explored.states, explored.transitions, explored.max_depth
                );
                // A model that explores next to nothing proves nothing.
                assert!(explored.states > 20_000, "{explored:?}");
                explored
            }
            Err(violation) => panic!("{}", report(config, &violation)),
        }
    }

    fn caught(config: Config, invariants: &[Invariant]) -> &'static str {
        let violation = check(config, invariants).expect_err("the checker found nothing");
        println!("{}", report(config, &violation));
        violation.invariant
    }

    #[test]
    fn the_protocol_keeps_every_invariant_with_the_order_placed_on_approval() {
        passes(config(false), &Invariant::ALL);
    }

    #[test]
    fn the_protocol_keeps_every_invariant_with_the_order_placed_early() {
        passes(config(true), &Invariant::ALL);
    }

    /// A node paused past its lease that goes on after another node took
    /// over changes nothing: the store's changes are fenced by the lease.
    #[test]
    fn a_paused_holder_is_fenced() {
        passes(paused(), &Invariant::ALL);
    }

    /// Pauses instead of crashes, each webhook once: a smaller space.
    /// The space with pauses has no small bound: searched to a depth
    /// (past the shortest ways the failures below take).
    fn paused() -> Config {
        Config {
            max_crashes: 0,
            deliveries: 1,
            paused_holders: true,
            depth_limit: Some(28),
            ..config(true)
        }
    }

    /// Without the fence, the paused node freezes the cart or places the
    /// order after the attempt was rolled back; the check finds it.
    #[test]
    fn an_unfenced_store_is_caught() {
        let broken = Config {
            flaw: Some(Flaw::NoFence),
            ..paused()
        };
        assert_eq!(
            caught(broken, &Invariant::ALL),
            Invariant::FailedGivesCartBack.name()
        );
    }

    #[test]
    fn a_save_without_the_lease_and_version_check_is_caught() {
        let broken = Config {
            flaw: Some(Flaw::BlindSave),
            ..paused()
        };
        assert_eq!(
            caught(broken, &Invariant::ROW),
            Invariant::FinalStaysFinal.name()
        );
    }
}
