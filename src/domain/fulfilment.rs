//! After the order is placed: its deliveries, the money of its payment,
//! and the order status that follows from both. Three things change an
//! order at once (staff, carriers through the API, the payment provider),
//! so the status is never set by hand: it is derived from the facts after
//! every change, and only the moves in [`ORDER_MOVES`] are allowed.

use super::order::OrderStatus;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStatus {
    Created,
    Shipped,
    Delivered,
    Cancelled,
}

super::stored_names!(DeliveryStatus {
    Created => "created",
    Shipped => "shipped",
    Delivered => "delivered",
    Cancelled => "cancelled",
});

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every move a delivery can make. Delivered straight from created is
/// allowed: a courier that hands over at once never reports "shipped".
pub const DELIVERY_MOVES: &[(DeliveryStatus, DeliveryStatus)] = &[
    (DeliveryStatus::Created, DeliveryStatus::Shipped),
    (DeliveryStatus::Created, DeliveryStatus::Delivered),
    (DeliveryStatus::Shipped, DeliveryStatus::Delivered),
    (DeliveryStatus::Created, DeliveryStatus::Cancelled),
];

/// What asking a delivery to move leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMove {
    /// It moves.
    Moves,
    /// It is there already (a repeated "delivered" from a carrier): nothing
    /// changes and nothing is charged again.
    AlreadyThere,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("A delivery that is {from} cannot become {to}.")]
pub struct DeliveryRefusal {
    pub from: DeliveryStatus,
    pub to: DeliveryStatus,
}

impl DeliveryStatus {
    pub fn move_to(self, to: DeliveryStatus) -> Result<DeliveryMove, DeliveryRefusal> {
        if self == to {
            Ok(DeliveryMove::AlreadyThere)
        } else if DELIVERY_MOVES.contains(&(self, to)) {
            Ok(DeliveryMove::Moves)
        } else {
            Err(DeliveryRefusal { from: self, to })
        }
    }

    /// The goods have left the warehouse.
    pub fn has_left(self) -> bool {
        matches!(self, Self::Shipped | Self::Delivered)
    }
}

/// An order with everything the back office shows of it.
#[derive(Debug, Clone)]
pub struct StaffOrder {
    pub order: super::order::Order,
    pub deliveries: Vec<Delivery>,
    pub operations: Vec<PaymentOperation>,
    pub timeline: Vec<TimelineEntry>,
    /// The mails to the shopper, oldest first (read for pages only).
    pub mails: Vec<super::mail::MailRecord>,
}

impl StaffOrder {
    /// The order alone, for what needs nothing else of it (a mail about
    /// the order itself, `MailKind::reads_fulfilment`).
    pub fn bare(order: super::order::Order) -> Self {
        Self {
            order,
            deliveries: Vec::new(),
            operations: Vec::new(),
            timeline: Vec::new(),
            mails: Vec::new(),
        }
    }
}

/// A shipment of some or all of an order's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub status: DeliveryStatus,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// (order line position, quantity)
    pub lines: Vec<(i64, i64)>,
    pub version: i64,
    pub created_at: time::PrimitiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Capture,
    Release,
    Refund,
}

super::stored_names!(OperationKind {
    Capture => "capture",
    Release => "release",
    Refund => "refund",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Asked of the provider; not answered yet (retried).
    Requested,
    Done,
    /// The provider said no; the reason is kept.
    Refused,
}

super::stored_names!(OperationStatus {
    Requested => "requested",
    Done => "done",
    Refused => "refused",
});

/// One capture, release or refund of an order's payment. Its id is the
/// idempotency key the provider sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOperation {
    pub id: String,
    pub kind: OperationKind,
    pub amount_minor: i64,
    pub status: OperationStatus,
    pub reason: Option<String>,
    pub actor: String,
    pub created_at: time::PrimitiveDateTime,
}

/// A line of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: time::PrimitiveDateTime,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

/// How far each order line got, from the order's deliveries.
pub fn progress(lines: &[(i64, i64, i64)], deliveries: &[Delivery]) -> Vec<LineProgress> {
    lines
        .iter()
        .map(|&(position, ordered, total_minor)| {
            let mut line = LineProgress {
                position,
                ordered,
                total_minor,
                in_deliveries: 0,
                shipped: 0,
                delivered: 0,
            };
            for delivery in deliveries
                .iter()
                .filter(|d| d.status != DeliveryStatus::Cancelled)
            {
                let quantity: i64 = delivery
                    .lines
                    .iter()
                    .filter(|(p, _)| *p == position)
                    .map(|(_, q)| q)
                    .sum();
                line.in_deliveries += quantity;
                if delivery.status.has_left() {
                    line.shipped += quantity;
                }
                if delivery.status == DeliveryStatus::Delivered {
                    line.delivered += quantity;
                }
            }
            line
        })
        .collect()
}

/// Why a new delivery cannot be made of these lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryLinesRefusal {
    #[error("Choose at least one line for the delivery.")]
    Empty,
    // Staff count lines from 1; positions count from 0.
    #[error("The order has no line {}.", .0 + 1)]
    NoSuchLine(i64),
    #[error("Only {open} of line {} are still to be delivered.", .position + 1)]
    TooMany { position: i64, open: i64 },
}

/// Checks the lines of a new delivery against what is still open; a
/// quantity of 0 leaves a line out.
pub fn check_delivery_lines(
    progress: &[LineProgress],
    wanted: &[(i64, i64)],
) -> Result<Vec<(i64, i64)>, DeliveryLinesRefusal> {
    let mut lines = Vec::new();
    for &(position, quantity) in wanted.iter().filter(|(_, q)| *q != 0) {
        let line = progress
            .iter()
            .find(|l| l.position == position)
            .ok_or(DeliveryLinesRefusal::NoSuchLine(position))?;
        let already: i64 = lines
            .iter()
            .filter(|(p, _)| *p == position)
            .map(|(_, q)| q)
            .sum();
        if quantity < 0 || quantity + already > line.open() {
            return Err(DeliveryLinesRefusal::TooMany {
                position,
                open: line.open(),
            });
        }
        lines.push((position, quantity));
    }
    if lines.is_empty() {
        return Err(DeliveryLinesRefusal::Empty);
    }
    Ok(lines)
}

/// After this delivery becomes delivered, nothing else is on its way:
/// every line is in a delivery and every other delivery is delivered.
pub fn is_last_delivery(progress: &[LineProgress], deliveries: &[Delivery], this: &str) -> bool {
    progress.iter().all(|l| l.open() == 0)
        && deliveries.iter().all(|d| {
            d.id == this
                || matches!(
                    d.status,
                    DeliveryStatus::Delivered | DeliveryStatus::Cancelled
                )
        })
}

/// The order statuses the back office moves between, as one table: a
/// derived status that is not a listed move from the current one is not
/// taken (the order stays where it is and the change is refused).
pub const ORDER_MOVES: &[(OrderStatus, OrderStatus)] = {
    use OrderStatus::*;
    &[
        (Placed, PartiallyPaid),
        (Placed, Paid),
        (Placed, Shipped),
        (Placed, Completed),
        (Placed, Cancelled),
        (Placed, Refunded),
        (OnHold, Paid),
        (OnHold, PartiallyPaid),
        (OnHold, Shipped),
        (OnHold, Completed),
        (OnHold, Refunded),
        (OnHold, Cancelled),
        (PartiallyPaid, Paid),
        (PartiallyPaid, Shipped),
        (PartiallyPaid, Completed),
        (PartiallyPaid, Cancelled),
        (PartiallyPaid, Refunded),
        (Paid, Shipped),
        (Paid, Completed),
        (Paid, Cancelled),
        (Paid, Refunded),
        (Shipped, Completed),
        (Shipped, Refunded),
        (Completed, Refunded),
    ]
};

pub fn order_may_move(from: OrderStatus, to: OrderStatus) -> bool {
    from == to || ORDER_MOVES.contains(&(from, to))
}

/// One order line as the back office sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineProgress {
    pub position: i64,
    pub ordered: i64,
    /// The line's total (gross, in minor units).
    pub total_minor: i64,
    /// In deliveries that are not cancelled.
    pub in_deliveries: i64,
    /// In deliveries that left the warehouse.
    pub shipped: i64,
    pub delivered: i64,
}

impl LineProgress {
    pub fn open(&self) -> i64 {
        self.ordered - self.in_deliveries
    }
}

/// The money of an order's payment, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ledger {
    /// What the order costs.
    pub total: i64,
    /// Held at the provider for later capture (0 when nothing is reserved).
    pub reserved: i64,
    pub captured: i64,
    pub refunded: i64,
    /// The uncaptured rest of the reservation was released.
    pub released: bool,
    /// Asked of the provider, not answered yet.
    pub capturing: i64,
    pub refunding: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyRefusal {
    #[error("Nothing is left to capture.")]
    NothingToCapture,
    #[error("At most {max} can still be captured.", max = minor(*.0))]
    CaptureTooLarge(i64),
    #[error("Nothing was captured that could be refunded.")]
    NothingToRefund,
    #[error("At most {max} can still be refunded.", max = minor(*.0))]
    RefundTooLarge(i64),
    #[error("Please enter an amount greater than zero.")]
    NotPositive,
}

fn minor(value: i64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

impl Ledger {
    /// Still reserved and not asked for.
    pub fn capturable(&self) -> i64 {
        if self.released {
            0
        } else {
            (self.reserved - self.captured - self.capturing).max(0)
        }
    }

    /// Captured and not paid back or asked back.
    pub fn refundable(&self) -> i64 {
        (self.captured - self.refunded - self.refunding).max(0)
    }

    pub fn check_capture(&self, amount: i64) -> Result<(), MoneyRefusal> {
        match self.capturable() {
            _ if amount <= 0 => Err(MoneyRefusal::NotPositive),
            0 => Err(MoneyRefusal::NothingToCapture),
            max if amount > max => Err(MoneyRefusal::CaptureTooLarge(max)),
            _ => Ok(()),
        }
    }

    pub fn check_refund(&self, amount: i64) -> Result<(), MoneyRefusal> {
        match self.refundable() {
            _ if amount <= 0 => Err(MoneyRefusal::NotPositive),
            0 => Err(MoneyRefusal::NothingToRefund),
            max if amount > max => Err(MoneyRefusal::RefundTooLarge(max)),
            _ => Ok(()),
        }
    }

    /// Paid and kept.
    pub fn paid(&self) -> i64 {
        self.captured - self.refunded
    }
}

/// What a delivery that becomes delivered takes from the reservation: its
/// lines' share of the order total, and the whole rest when it is the last
/// (so shipping and rounding land once and the captures sum to the total).
/// Never more than is still capturable.
pub fn capture_on_delivery(
    ledger: &Ledger,
    lines: &[LineProgress],
    delivered_now: &[(i64, i64)],
    last: bool,
) -> i64 {
    let capturable = ledger.capturable();
    if last {
        return capturable;
    }
    let goods: i64 = lines.iter().map(|l| l.total_minor).sum();
    if goods <= 0 {
        return 0;
    }
    let value: i128 = delivered_now
        .iter()
        .filter_map(|&(position, quantity)| {
            let line = lines.iter().find(|l| l.position == position)?;
            Some(
                i128::from(line.total_minor) * i128::from(quantity)
                    / i128::from(line.ordered.max(1)),
            )
        })
        .sum();
    let share = i128::from(ledger.total) * value / i128::from(goods);
    (share as i64).clamp(0, capturable)
}

/// The facts the order status follows from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub ledger: Ledger,
    pub lines: Vec<LineProgress>,
    /// Nothing ships before the money arrives (cash in advance, a store
    /// payment not made yet).
    pub waits_for_money: bool,
}

impl OrderFacts {
    fn all_left(&self) -> bool {
        self.lines.iter().all(|l| l.shipped >= l.ordered)
    }

    fn all_delivered(&self) -> bool {
        self.lines.iter().all(|l| l.delivered >= l.ordered)
    }
}

/// The status an order has by its facts; `current` for one that is
/// cancelled or not yet placed for good (its payment still running).
pub fn derive_status(current: OrderStatus, facts: &OrderFacts) -> OrderStatus {
    if matches!(
        current,
        OrderStatus::Cancelled | OrderStatus::PendingPayment
    ) {
        return current;
    }
    let derived = status_by_facts(facts);
    if order_may_move(current, derived) {
        derived
    } else {
        current
    }
}

/// The status the facts alone name.
fn status_by_facts(facts: &OrderFacts) -> OrderStatus {
    use OrderStatus::*;
    let ledger = &facts.ledger;
    // Counted on what was taken: a partial refund (goodwill) does not
    // make a paid order unpaid again.
    let paid_in_full = ledger.captured >= ledger.total;
    // Refunded for good: all money taken went back and nothing reserved
    // is left to take (a capture still on its way counts as left).
    let nothing_left = ledger.released || ledger.reserved <= ledger.captured;
    if ledger.captured > 0 && ledger.refunded >= ledger.captured && nothing_left {
        Refunded
    } else if facts.all_delivered() && paid_in_full {
        Completed
    } else if facts.all_left() {
        Shipped
    } else if paid_in_full && ledger.total > 0 {
        Paid
    } else if ledger.captured > 0 {
        PartiallyPaid
    } else if facts.waits_for_money {
        OnHold
    } else {
        Placed
    }
}

/// What staff may do with an order, each shown as a button only when
/// allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub create_delivery: bool,
    pub capture: bool,
    pub cancel: bool,
    pub refund: bool,
    pub mark_paid: bool,
    pub mark_collected: bool,
}

/// How the money of an order's payment arrives, as its gateway says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyArrives {
    /// Through the provider: captured from a reservation, or paid already.
    ThroughProvider,
    /// A bank transfer staff confirm by hand ("Mark as paid").
    TransferInAdvance,
    /// Cash the courier collects ("Mark cash on delivery collected").
    OnDelivery,
}

pub fn allowed(status: OrderStatus, facts: &OrderFacts, money: MoneyArrives) -> Allowed {
    use OrderStatus::*;
    let live = !matches!(status, Cancelled | Refunded | PendingPayment);
    let ledger = &facts.ledger;
    let nothing_left = facts.lines.iter().all(|l| l.shipped == 0);
    // Nothing paid, nothing on its way, nothing reserved to capture.
    let unpaid = ledger.paid() <= 0 && ledger.capturing == 0 && ledger.capturable() == 0;
    Allowed {
        create_delivery: live && status != OnHold && facts.lines.iter().any(|l| l.open() > 0),
        capture: live && ledger.capturable() > 0,
        cancel: live && nothing_left && status != Completed,
        refund: status != PendingPayment && ledger.refundable() > 0,
        mark_paid: live && money == MoneyArrives::TransferInAdvance && status == OnHold && unpaid,
        mark_collected: live
            && money == MoneyArrives::OnDelivery
            && unpaid
            && facts.lines.iter().any(|l| l.delivered > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    fn line(position: i64, ordered: i64, total_minor: i64) -> LineProgress {
        LineProgress {
            position,
            ordered,
            total_minor,
            in_deliveries: 0,
            shipped: 0,
            delivered: 0,
        }
    }

    fn reserved(total: i64) -> Ledger {
        Ledger {
            total,
            reserved: total,
            ..Ledger::default()
        }
    }

    #[test]
    fn deliveries_move_only_forward_and_repeats_change_nothing() {
        use DeliveryStatus::*;
        assert_eq!(Created.move_to(Shipped), Ok(DeliveryMove::Moves));
        assert_eq!(Shipped.move_to(Delivered), Ok(DeliveryMove::Moves));
        assert_eq!(Delivered.move_to(Delivered), Ok(DeliveryMove::AlreadyThere));
        assert!(Delivered.move_to(Shipped).is_err());
        assert!(Shipped.move_to(Cancelled).is_err());
        assert!(Cancelled.move_to(Delivered).is_err());
        for &s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_delivery_takes_only_open_lines_named_from_one() {
        let lines = [line(0, 1, 1000), line(1, 2, 2000)];
        assert_eq!(
            check_delivery_lines(&lines, &[(0, 1), (1, 0)]),
            Ok(vec![(0, 1)])
        );
        let too_many = check_delivery_lines(&lines, &[(1, 3)]).unwrap_err();
        assert_eq!(
            too_many.to_string(),
            "Only 2 of line 2 are still to be delivered."
        );
        let none = check_delivery_lines(&lines, &[(5, 1)]).unwrap_err();
        assert_eq!(none.to_string(), "The order has no line 6.");
        assert_eq!(
            check_delivery_lines(&lines, &[(0, 0)]),
            Err(DeliveryLinesRefusal::Empty)
        );
    }

    #[test]
    fn two_deliveries_capture_their_share_and_the_last_the_rest() {
        // Two lines of 30.00 and 60.00, shipping 4.99: total 94.99.
        let lines = [line(0, 1, 3000), line(1, 2, 6000)];
        let mut ledger = reserved(9499);
        let first = capture_on_delivery(&ledger, &lines, &[(0, 1)], false);
        assert_eq!(first, 9499 * 3000 / 9000);
        ledger.captured += first;
        let second = capture_on_delivery(&ledger, &lines, &[(1, 2)], true);
        assert_eq!(first + second, 9499);
        ledger.captured += second;
        assert_eq!(ledger.capturable(), 0);
        assert_eq!(capture_on_delivery(&ledger, &lines, &[(1, 2)], true), 0);
    }

    #[test]
    fn money_limits_are_never_passed() {
        let mut ledger = reserved(1000);
        assert!(ledger.check_capture(1000).is_ok());
        assert_eq!(
            ledger.check_capture(1001),
            Err(MoneyRefusal::CaptureTooLarge(1000))
        );
        assert_eq!(ledger.check_capture(0), Err(MoneyRefusal::NotPositive));
        ledger.capturing = 400;
        assert_eq!(
            ledger.check_capture(700),
            Err(MoneyRefusal::CaptureTooLarge(600))
        );
        assert_eq!(ledger.check_refund(1), Err(MoneyRefusal::NothingToRefund));
        ledger.capturing = 0;
        ledger.captured = 400;
        ledger.refunding = 100;
        assert_eq!(
            ledger.check_refund(301),
            Err(MoneyRefusal::RefundTooLarge(300))
        );
        ledger.released = true;
        assert_eq!(ledger.check_capture(1), Err(MoneyRefusal::NothingToCapture));
    }

    #[test]
    fn the_status_follows_payment_and_deliveries() {
        let mut facts = OrderFacts {
            ledger: reserved(9000),
            lines: vec![line(0, 1, 3000), line(1, 1, 6000)],
            waits_for_money: false,
        };
        assert_eq!(derive_status(Placed, &facts), Placed);
        facts.lines[0].in_deliveries = 1;
        facts.lines[0].shipped = 1;
        facts.lines[0].delivered = 1;
        facts.ledger.captured = 3000;
        assert_eq!(derive_status(Placed, &facts), PartiallyPaid);
        facts.lines[1].in_deliveries = 1;
        facts.lines[1].shipped = 1;
        assert_eq!(derive_status(PartiallyPaid, &facts), Shipped);
        facts.lines[1].delivered = 1;
        facts.ledger.captured = 9000;
        assert_eq!(derive_status(Shipped, &facts), Completed);
        facts.ledger.refunded = 9000;
        assert_eq!(derive_status(Completed, &facts), Refunded);
        // Everything taken so far paid back, but a capture still on its
        // way: not refunded for good.
        let mut pending = facts.clone();
        pending.ledger.captured = 3000;
        pending.ledger.refunded = 3000;
        pending.ledger.capturing = 6000;
        assert_eq!(derive_status(PartiallyPaid, &pending), Shipped);
        // Cancelled stays cancelled, whatever arrives later.
        assert_eq!(derive_status(Cancelled, &facts), Cancelled);
    }

    #[test]
    fn cash_in_advance_waits_then_proceeds_like_a_paid_order() {
        let mut facts = OrderFacts {
            ledger: Ledger {
                total: 5000,
                ..Ledger::default()
            },
            lines: vec![line(0, 1, 5000)],
            waits_for_money: true,
        };
        assert_eq!(derive_status(OnHold, &facts), OnHold);
        let money = MoneyArrives::TransferInAdvance;
        assert!(allowed(OnHold, &facts, money).mark_paid);
        assert!(!allowed(OnHold, &facts, money).create_delivery);
        // Marked paid once, its answer not saved yet: not twice.
        facts.ledger.capturing = 5000;
        assert!(!allowed(OnHold, &facts, money).mark_paid);
        facts.ledger.capturing = 0;
        facts.ledger.captured = 5000;
        facts.waits_for_money = false;
        assert_eq!(derive_status(OnHold, &facts), Paid);
        assert!(!allowed(Paid, &facts, money).mark_paid);
        assert!(allowed(Paid, &facts, money).create_delivery);
    }

    /// Facts only grow (money captured and refunded, goods shipped and
    /// delivered, the wait for money ends): every step between two such
    /// sets of facts is a move the table lists.
    #[test]
    fn growing_facts_only_take_listed_moves() {
        let mut all = Vec::new();
        for captured in [0, 500, 1000] {
            for refunded in [0, 500, 1000] {
                for delivered in 0..=1 {
                    for shipped in delivered..=1 {
                        // An order waiting for its money has none and
                        // ships nothing.
                        for waits in [true, false] {
                            if !waits || (captured == 0 && shipped == 0) {
                                all.push((
                                    captured,
                                    refunded.min(captured),
                                    shipped,
                                    delivered,
                                    waits,
                                ));
                            }
                        }
                    }
                }
            }
        }
        let facts =
            |&(captured, refunded, shipped, delivered, waits): &(i64, i64, i64, i64, bool)| {
                OrderFacts {
                    ledger: Ledger {
                        total: 1000,
                        reserved: 1000,
                        captured,
                        refunded,
                        ..Ledger::default()
                    },
                    lines: vec![LineProgress {
                        shipped,
                        delivered,
                        in_deliveries: shipped,
                        ..line(0, 1, 1000)
                    }],
                    waits_for_money: waits,
                }
            };
        let grows = |a: &(i64, i64, i64, i64, bool), b: &(i64, i64, i64, i64, bool)| {
            // The wait ends when the whole amount arrives.
            let wait_ends = a.4 == b.4 || (!b.4 && b.0 == 1000);
            a.0 <= b.0 && a.1 <= b.1 && a.2 <= b.2 && a.3 <= b.3 && (a.4 || !b.4) && wait_ends
        };
        for a in &all {
            for b in all.iter().filter(|b| grows(a, b)) {
                let (from, to) = (status_by_facts(&facts(a)), status_by_facts(&facts(b)));
                assert!(order_may_move(from, to), "{a:?} {from:?} -> {b:?} {to:?}");
            }
        }
    }
}
