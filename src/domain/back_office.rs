//! What the back office's order list and dashboard ask of the orders: the
//! filters, the work queues, the state of an order's payment as staff read
//! it, pages of 25, and the figures per day.

use super::money::Money;
use super::order::OrderStatus;
use super::payment::PaymentStatus;
use time::{Date, Duration, PrimitiveDateTime};

/// Orders on one page of the list.
pub const PAGE_SIZE: i64 = 25;
/// Days the dashboard's chart covers, today included.
pub const CHART_DAYS: i64 = 30;
/// Days of "this week", today included.
pub const WEEK_DAYS: i64 = 7;
/// A money operation the provider has not answered this long is a problem
/// (the outbox keeps sending it; staff should look).
pub const OPERATION_STUCK_AFTER: Duration = Duration::minutes(10);
/// Words of a search; more are ignored.
const MAX_TERMS: usize = 5;
const MAX_TERM_CHARS: usize = 100;

/// An order's most advanced delivery, cancelled deliveries not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStage {
    /// No delivery, or only cancelled ones.
    None,
    Created,
    Shipped,
    Delivered,
}

super::stored_names!(DeliveryStage {
    None => "none",
    Created => "created",
    Shipped => "shipped",
    Delivered => "delivered",
});

impl DeliveryStage {
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "No delivery yet",
            Self::Created => "Delivery created",
            Self::Shipped => "Shipped",
            Self::Delivered => "Delivered",
        }
    }
}

/// The dashboard's lists of orders someone has to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// On hold or pending payment: the money has not arrived.
    AwaitingPayment,
    /// Placed, paid or partially paid, with goods in no delivery yet.
    ToShip,
    /// The latest money operation of some kind was refused, or one was not
    /// answered for [`OPERATION_STUCK_AFTER`].
    PaymentProblems,
}

super::stored_names!(Queue {
    AwaitingPayment => "awaiting_payment",
    ToShip => "to_ship",
    PaymentProblems => "payment_problems",
});

impl Queue {
    pub fn label(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "Awaiting payment",
            Self::ToShip => "To ship",
            Self::PaymentProblems => "Payment problems",
        }
    }

    /// The order statuses the queue looks at (all, when empty).
    pub fn statuses(self) -> &'static [OrderStatus] {
        match self {
            Self::AwaitingPayment => &[OrderStatus::OnHold, OrderStatus::PendingPayment],
            Self::ToShip => &[
                OrderStatus::Placed,
                OrderStatus::Paid,
                OrderStatus::PartiallyPaid,
            ],
            Self::PaymentProblems => &[],
        }
    }
}

/// Where an order's money stands, as the list shows and filters it: the
/// amounts taken and paid back count before the payment's own status,
/// which the provider set at checkout and the back office's captures and
/// refunds do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// Nothing to pay (a free order).
    None,
    Started,
    /// Offline: nothing received yet.
    Pending,
    /// Reserved at the provider, nothing taken yet.
    Reserved,
    /// Some or all taken, not all paid back.
    Captured,
    /// Everything taken was paid back.
    Refunded,
    /// Voided or released with nothing taken.
    Cancelled,
}

super::stored_names!(PaymentState {
    None => "none",
    Started => "started",
    Pending => "pending",
    Reserved => "reserved",
    Captured => "captured",
    Refunded => "refunded",
    Cancelled => "cancelled",
});

/// The stored facts of a payment that its state follows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFacts {
    pub status: PaymentStatus,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub released: bool,
}

impl PaymentState {
    /// The state of an order's payment (`None`: the order has none). The
    /// store's filter on the list (`store/order_list.rs`) is this rule
    /// written in SQL.
    pub fn of(payment: Option<PaymentFacts>) -> Self {
        let Some(p) = payment else {
            return Self::None;
        };
        if p.captured_minor > 0 {
            if p.refunded_minor >= p.captured_minor {
                Self::Refunded
            } else {
                Self::Captured
            }
        } else if p.released || p.status == PaymentStatus::Cancelled {
            Self::Cancelled
        } else {
            Self::by_status(p.status)
        }
    }

    /// The state a payment with nothing taken and nothing released has.
    pub fn by_status(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Started => Self::Started,
            PaymentStatus::Pending => Self::Pending,
            PaymentStatus::Authorized => Self::Reserved,
            PaymentStatus::Captured => Self::Captured,
            PaymentStatus::Refunded => Self::Refunded,
            PaymentStatus::Cancelled => Self::Cancelled,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "Nothing to pay",
            Self::Started => "Started",
            Self::Pending => "Not received yet",
            Self::Reserved => "Reserved",
            Self::Captured => "Captured",
            Self::Refunded => "Refunded",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// Which orders the list shows. Every part is optional; all given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub payment: Option<PaymentState>,
    pub delivery: Option<DeliveryStage>,
    pub queue: Option<Queue>,
    /// Lower-case words; each must be found in the order number, the
    /// e-mail address or the checkout details (names, addresses).
    pub terms: Vec<String>,
}

/// The words of a search as the list looks for them: lower case, at most
/// five, each at most 100 characters.
pub fn search_terms(typed: &str) -> Vec<String> {
    typed
        .split_whitespace()
        .take(MAX_TERMS)
        .map(|word| word.chars().take(MAX_TERM_CHARS).collect::<String>())
        .map(|word| word.to_lowercase())
        .collect()
}

/// One page of a list of `total` items: the page asked for, kept within the
/// pages there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub count: i64,
}

impl Page {
    pub fn of(asked: i64, total: i64) -> Self {
        let count = ((total.max(0) + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        Self {
            number: asked.clamp(1, count),
            count,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.number - 1) * PAGE_SIZE
    }

    pub fn has_previous(&self) -> bool {
        self.number > 1
    }

    pub fn has_next(&self) -> bool {
        self.number < self.count
    }
}

/// An order as a row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub number: String,
    pub created_at: PrimitiveDateTime,
    pub email: String,
    /// The billing name.
    pub customer: String,
    pub total: Money,
    pub status: OrderStatus,
    pub payment: PaymentState,
}

/// Orders placed on one day (UTC) that are not cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFigures {
    pub day: Date,
    pub orders: i64,
    pub revenue: Money,
}

/// Every day of the `days` up to and including `today`, oldest first, with
/// the figures of `known` days and zero for the rest.
pub fn day_series(today: Date, days: i64, known: &[DayFigures], zero: Money) -> Vec<DayFigures> {
    (0..days)
        .rev()
        .map(|back| {
            let day = today - Duration::days(back);
            known
                .iter()
                .find(|d| d.day == day)
                .copied()
                .unwrap_or(DayFigures {
                    day,
                    orders: 0,
                    revenue: zero,
                })
        })
        .collect()
}

/// The dashboard's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub awaiting_payment: i64,
    pub to_ship: i64,
    pub payment_problems: i64,
    pub today: DayFigures,
    /// Orders and revenue of the last [`WEEK_DAYS`] days.
    pub week_orders: i64,
    pub week_revenue: Money,
    /// The last [`CHART_DAYS`] days, oldest first.
    pub days: Vec<DayFigures>,
}

/// Counts of the work queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub awaiting_payment: i64,
    pub to_ship: i64,
    pub payment_problems: i64,
}

impl Dashboard {
    /// The figures from the queue counts and the days of the chart
    /// (`days` as [`day_series`] gives them, ending today).
    pub fn new(counts: QueueCounts, days: Vec<DayFigures>, zero: Money) -> Self {
        let week = &days[days.len().saturating_sub(WEEK_DAYS as usize)..];
        let week_orders = week.iter().map(|d| d.orders).sum();
        let week_revenue = week.iter().fold(zero, |sum, d| sum + d.revenue);
        let today = days.last().copied().unwrap_or(DayFigures {
            day: Date::MIN,
            orders: 0,
            revenue: zero,
        });
        Self {
            awaiting_payment: counts.awaiting_payment,
            to_ship: counts.to_ship,
            payment_problems: counts.payment_problems,
            today,
            week_orders,
            week_revenue,
            days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn facts(status: PaymentStatus, captured: i64, refunded: i64, released: bool) -> PaymentFacts {
        PaymentFacts {
            status,
            captured_minor: captured,
            refunded_minor: refunded,
            released,
        }
    }

    #[test]
    fn money_taken_counts_before_the_stored_status() {
        use PaymentStatus::*;
        assert_eq!(PaymentState::of(None), PaymentState::None);
        assert_eq!(
            PaymentState::of(Some(facts(Authorized, 0, 0, false))),
            PaymentState::Reserved
        );
        assert_eq!(
            PaymentState::of(Some(facts(Authorized, 500, 0, true))),
            PaymentState::Captured
        );
        assert_eq!(
            PaymentState::of(Some(facts(Authorized, 500, 100, false))),
            PaymentState::Captured
        );
        assert_eq!(
            PaymentState::of(Some(facts(Authorized, 500, 500, false))),
            PaymentState::Refunded
        );
        assert_eq!(
            PaymentState::of(Some(facts(Authorized, 0, 0, true))),
            PaymentState::Cancelled
        );
        assert_eq!(
            PaymentState::of(Some(facts(Pending, 0, 0, false))),
            PaymentState::Pending
        );
        assert_eq!(
            PaymentState::of(Some(facts(Pending, 1000, 0, false))),
            PaymentState::Captured
        );
        for &state in PaymentState::ALL {
            assert_eq!(PaymentState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn pages_stay_within_the_list() {
        assert_eq!(
            Page::of(1, 0),
            Page {
                number: 1,
                count: 1
            }
        );
        assert_eq!(
            Page::of(3, 25),
            Page {
                number: 1,
                count: 1
            }
        );
        assert_eq!(
            Page::of(2, 26),
            Page {
                number: 2,
                count: 2
            }
        );
        assert_eq!(Page::of(0, 26).number, 1);
        assert_eq!(Page::of(-5, 26).number, 1);
        assert_eq!(Page::of(i64::MAX, 26).number, 2);
        assert_eq!(Page::of(2, 60).offset(), 25);
        assert!(Page::of(2, 60).has_previous() && Page::of(2, 60).has_next());
        assert!(!Page::of(3, 60).has_next());
    }

    #[test]
    fn searches_are_a_few_lower_case_words() {
        assert_eq!(search_terms("  Ann   LEE "), vec!["ann", "lee"]);
        assert!(search_terms("   ").is_empty());
        assert_eq!(search_terms("a b c d e f g").len(), 5);
        assert_eq!(search_terms(&"x".repeat(500))[0].len(), 100);
    }

    #[test]
    fn the_week_and_today_come_from_the_days() {
        let today = Date::from_calendar_date(2026, time::Month::November, 23).unwrap();
        let known = [
            DayFigures {
                day: today,
                orders: 2,
                revenue: eur(3000),
            },
            DayFigures {
                day: today - Duration::days(6),
                orders: 1,
                revenue: eur(1000),
            },
            DayFigures {
                day: today - Duration::days(7),
                orders: 5,
                revenue: eur(9000),
            },
        ];
        let days = day_series(today, CHART_DAYS, &known, eur(0));
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].day, today - Duration::days(29));
        assert_eq!(days[29].day, today);
        let dashboard = Dashboard::new(QueueCounts::default(), days, eur(0));
        assert_eq!(dashboard.today.orders, 2);
        assert_eq!(dashboard.today.revenue, eur(3000));
        assert_eq!(dashboard.week_orders, 3);
        assert_eq!(dashboard.week_revenue, eur(4000));
    }
}
