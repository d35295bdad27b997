//! What a run measured: flows by kind and outcome, requests retried, and
//! a latency histogram per step (microseconds), for the soak's table and
//! for throughput figures.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    steps: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
    flows: Mutex<BTreeMap<String, u64>>,
    retries: AtomicU64,
    /// Order numbers the shoppers saw on their confirmation pages.
    orders: Mutex<Vec<String>>,
    staff: Mutex<BTreeMap<&'static str, u64>>,
}

/// One step's latencies, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A run's figures, written as JSON for `check` and for benchmarks.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seconds: f64,
    pub shoppers: usize,
    /// `kind outcome` → flows.
    pub flows: BTreeMap<String, u64>,
    pub requests: u64,
    pub retries: u64,
    pub staff: BTreeMap<&'static str, u64>,
    /// Order numbers confirmed to shoppers (each must exist, live or
    /// cancelled by an expired store payment).
    pub orders: Vec<String>,
    pub steps: BTreeMap<&'static str, StepSummary>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    pub fn record(&self, step: &'static str, took: Duration) {
        let micros = (took.as_micros() as u64).max(1);
        lock(&self.steps)
            .entry(step)
            .or_insert_with(|| Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds"))
            .saturating_record(micros);
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn flow(&self, kind: &str, outcome: &str) {
        *lock(&self.flows)
            .entry(format!("{kind} {outcome}"))
            .or_default() += 1;
    }

    pub fn order(&self, number: String) {
        lock(&self.orders).push(number);
    }

    pub fn staff(&self, what: &'static str) {
        *lock(&self.staff).entry(what).or_default() += 1;
    }

    pub fn summary(&self, seconds: f64, shoppers: usize) -> Summary {
        let ms = |v: u64| v as f64 / 1000.0;
        let steps: BTreeMap<&'static str, StepSummary> = lock(&self.steps)
            .iter()
            .map(|(step, h)| {
                (
                    *step,
                    StepSummary {
                        count: h.len(),
                        p50_ms: ms(h.value_at_quantile(0.50)),
                        p90_ms: ms(h.value_at_quantile(0.90)),
                        p99_ms: ms(h.value_at_quantile(0.99)),
                        max_ms: ms(h.max()),
                    },
                )
            })
            .collect();
        Summary {
            seconds,
            shoppers,
            flows: lock(&self.flows).clone(),
            requests: steps.values().map(|s| s.count).sum(),
            retries: self.retries.load(Ordering::Relaxed),
            staff: lock(&self.staff).clone(),
            orders: lock(&self.orders).clone(),
            steps,
        }
    }
}
