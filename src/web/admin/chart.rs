//! The dashboard's chart of the last 30 days, drawn on the server as SVG:
//! a bar per day for the revenue, a dot per day (joined by a line) for the
//! number of orders, each scaled to its own highest day. The numbers here
//! are the SVG's coordinates; the template only writes them out.

use crate::domain::back_office::DayFigures;
use crate::domain::money::Money;

/// Width of one day's slot, left margin, height of the plot and where its
/// baseline is, in SVG units.
const SLOT: i64 = 20;
const LEFT: i64 = 10;
const TOP: i64 = 24;
const PLOT: i64 = 170;
const BASE: i64 = TOP + PLOT;
const BAR: i64 = 14;

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub baseline: i64,
    pub bars: Vec<Bar>,
    pub dots: Vec<Dot>,
    /// The `points` of the line through the dots.
    pub line: String,
    pub max_revenue: String,
    pub max_orders: i64,
    pub first_day: String,
    pub last_day: String,
    /// The chart in words, for its `<desc>`.
    pub summary: String,
}

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// The day's figures in words, for the bar's `<title>`.
    pub label: String,
}

pub struct Dot {
    pub x: i64,
    pub y: i64,
}

/// `value` of `max` as a height within the plot; anything above zero is
/// at least one unit high, so a small day is not drawn as none.
fn scaled(value: i64, max: i64) -> i64 {
    if max <= 0 || value <= 0 {
        return 0;
    }
    let height = i128::from(value) * i128::from(PLOT) / i128::from(max);
    (height as i64).clamp(1, PLOT)
}

fn orders_word(n: i64) -> &'static str {
    if n == 1 { "order" } else { "orders" }
}

pub fn chart(days: &[DayFigures], zero: Money) -> Chart {
    let max_revenue = days.iter().map(|d| d.revenue.minor).max().unwrap_or(0);
    let max_orders = days.iter().map(|d| d.orders).max().unwrap_or(0);
    let mut bars = Vec::with_capacity(days.len());
    let mut dots = Vec::with_capacity(days.len());
    for (i, day) in days.iter().enumerate() {
        let slot = LEFT + i as i64 * SLOT;
        let height = scaled(day.revenue.minor, max_revenue);
        bars.push(Bar {
            x: slot + (SLOT - BAR) / 2,
            y: BASE - height,
            width: BAR,
            height,
            label: format!(
                "{}: {} {}, {}",
                day.day,
                day.orders,
                orders_word(day.orders),
                day.revenue
            ),
        });
        dots.push(Dot {
            x: slot + SLOT / 2,
            y: BASE - scaled(day.orders, max_orders),
        });
    }
    let line = dots
        .iter()
        .map(|d| format!("{},{}", d.x, d.y))
        .collect::<Vec<_>>()
        .join(" ");
    let total_orders: i64 = days.iter().map(|d| d.orders).sum();
    let total_revenue = days.iter().fold(zero, |sum, d| sum + d.revenue);
    let best = days.iter().max_by_key(|d| d.revenue.minor);
    let first_day = days.first().map(|d| d.day.to_string()).unwrap_or_default();
    let last_day = days.last().map(|d| d.day.to_string()).unwrap_or_default();
    let summary = match best {
        Some(best) if best.revenue.minor > 0 => format!(
            "Bars: revenue per day; dots: orders per day, from {first_day} to {last_day}. \
             {total_orders} {} and {total_revenue} in all; the best day was {} with {}.",
            orders_word(total_orders),
            best.day,
            best.revenue
        ),
        _ => format!("No orders from {first_day} to {last_day}."),
    };
    Chart {
        width: LEFT * 2 + days.len() as i64 * SLOT,
        height: BASE + 24,
        baseline: BASE,
        bars,
        dots,
        line,
        max_revenue: Money::new(max_revenue, zero.currency).to_string(),
        max_orders,
        first_day,
        last_day,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::back_office::day_series;
    use crate::domain::money::Currency;

    #[test]
    fn the_highest_day_fills_the_plot_and_empty_days_stay_flat() {
        let eur = Currency::parse("EUR").unwrap();
        let zero = Money::zero(eur);
        let today = time::Date::from_calendar_date(2026, time::Month::November, 23).unwrap();
        let known = [
            DayFigures {
                day: today,
                orders: 4,
                revenue: Money::new(10_000, eur),
            },
            DayFigures {
                day: today - time::Duration::days(1),
                orders: 1,
                revenue: Money::new(1, eur),
            },
        ];
        let days = day_series(today, 30, &known, zero);
        let drawn = chart(&days, zero);
        assert_eq!(drawn.bars.len(), 30);
        let last = drawn.bars.last().unwrap();
        assert_eq!((last.y, last.height), (TOP, PLOT));
        assert_eq!(drawn.bars[28].height, 1, "a tiny day is still visible");
        assert_eq!(drawn.bars[0].height, 0);
        assert_eq!(drawn.dots[29].y, TOP);
        assert_eq!(drawn.dots[0].y, BASE);
        assert!(drawn.summary.contains("5 orders"), "{}", drawn.summary);
        assert!(drawn.bars[29].label.contains("100.00 EUR"));
        let empty = chart(&day_series(today, 30, &[], zero), zero);
        assert!(empty.summary.starts_with("No orders"));
        assert!(empty.bars.iter().all(|b| b.height == 0));
    }
}
