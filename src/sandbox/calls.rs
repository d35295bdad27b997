//! Every call the sandbox's APIs receive, counted per operation and per
//! subject (a session id, an idempotency key or a registration id),
//! repeats included: a repeated call that changes nothing leaves no other
//! trace, so tests that mean "called once" assert on these counts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CallCounts {
    /// Operation, then subject: the calls received.
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// Operation: the calls received, over all subjects. Every operation
    /// of the API is listed, so a misspelt name in a test finds nothing
    /// instead of a reassuring zero.
    pub totals: BTreeMap<String, u64>,
    /// Operation, then subject: of the calls received, those turned away
    /// because the API was down.
    pub unavailable: BTreeMap<String, BTreeMap<String, u64>>,
}

impl CallCounts {
    /// No calls yet of any of `operations`.
    pub fn of(operations: &[&str]) -> Self {
        let mut counts = Self::default();
        for operation in operations {
            counts
                .calls
                .insert((*operation).to_owned(), BTreeMap::new());
            counts.totals.insert((*operation).to_owned(), 0);
        }
        counts
    }

    pub fn record(&mut self, operation: &str, subject: &str) {
        bump(&mut self.calls, operation, subject);
        *self.totals.entry(operation.to_owned()).or_default() += 1;
    }

    pub fn record_unavailable(&mut self, operation: &str, subject: &str) {
        bump(&mut self.unavailable, operation, subject);
    }
}

fn bump(counts: &mut BTreeMap<String, BTreeMap<String, u64>>, operation: &str, subject: &str) {
    *counts
        .entry(operation.to_owned())
        .or_default()
        .entry(subject.to_owned())
        .or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_count_per_subject_and_in_the_total() {
        let mut counts = CallCounts::of(&["capture", "refund"]);
        counts.record("capture", "ps_1");
        counts.record("capture", "ps_1");
        counts.record("capture", "ps_2");
        counts.record_unavailable("capture", "ps_2");
        assert_eq!(counts.calls["capture"]["ps_1"], 2);
        assert_eq!(counts.calls["capture"]["ps_2"], 1);
        assert_eq!(counts.totals["capture"], 3);
        assert_eq!(counts.unavailable["capture"]["ps_2"], 1);
        assert_eq!(counts.totals["refund"], 0, "listed before any call");
        assert!(counts.calls["refund"].is_empty());
    }
}
