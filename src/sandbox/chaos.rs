//! The provider misbehaving at random, as a real one does on a bad day:
//! webhooks dropped, delayed, sent twice and out of order, and a share of
//! API calls answered 503. Set under `[sandbox.chaos]`; off by default.
//! Every decision comes from one seeded generator, so a run with the same
//! seed and the same calls decides the same way.

use serde::{Deserialize, Serialize};

/// `[sandbox.chaos]`: shares are between 0 and 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosSettings {
    /// Webhooks never sent.
    pub drop_share: f64,
    /// Webhooks sent twice (each copy with its own delay).
    pub duplicate_share: f64,
    /// Each webhook copy waits up to this long before it goes.
    pub delay_max_ms: u64,
    /// A session's first event waits up to this much longer, so later
    /// events of the same payment may arrive before it.
    pub reorder_window_ms: u64,
    /// API calls (payment and registration) answered 503 without being
    /// served, which the shop retries or reports as unavailable.
    pub fail_share: f64,
    /// Seeds the decisions; 0 picks one from the clock.
    pub seed: u64,
}

impl ChaosSettings {
    pub fn is_off(&self) -> bool {
        self.drop_share <= 0.0
            && self.duplicate_share <= 0.0
            && self.delay_max_ms == 0
            && self.reorder_window_ms == 0
            && self.fail_share <= 0.0
    }
}

/// What chaos did, for the stats endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChaosCounts {
    pub webhooks_dropped: u64,
    pub webhooks_duplicated: u64,
    /// Webhook copies held back (by the delay or the reorder window).
    pub webhooks_delayed: u64,
    pub calls_failed: u64,
}

/// How one webhook goes out: no copy (dropped), one or two, each after
/// its delay in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPlan {
    pub delays_ms: Vec<u64>,
}

/// The decisions and what they added up to.
#[derive(Debug)]
pub struct Chaos {
    settings: ChaosSettings,
    rng: SplitMix64,
    pub counts: ChaosCounts,
}

impl Default for Chaos {
    fn default() -> Self {
        Self::new(ChaosSettings::default())
    }
}

impl Chaos {
    pub fn new(settings: ChaosSettings) -> Self {
        let seed = if settings.seed == 0 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        } else {
            settings.seed
        };
        Self {
            settings,
            rng: SplitMix64(seed),
            counts: ChaosCounts::default(),
        }
    }

    /// Whether this API call is turned away with 503 (and counted).
    pub fn fail_call(&mut self) -> bool {
        let fail = self.chance(self.settings.fail_share);
        if fail {
            self.counts.calls_failed += 1;
        }
        fail
    }

    /// How a webhook goes out; `first_of_session` may be held back by the
    /// reorder window. `base_delay_ms` is the test knob's fixed delay.
    pub fn plan_webhook(&mut self, first_of_session: bool, base_delay_ms: u64) -> WebhookPlan {
        if self.chance(self.settings.drop_share) {
            self.counts.webhooks_dropped += 1;
            return WebhookPlan {
                delays_ms: Vec::new(),
            };
        }
        let copies = if self.chance(self.settings.duplicate_share) {
            self.counts.webhooks_duplicated += 1;
            2
        } else {
            1
        };
        let hold = if first_of_session {
            self.up_to(self.settings.reorder_window_ms)
        } else {
            0
        };
        let delays_ms: Vec<u64> = (0..copies)
            .map(|_| base_delay_ms + hold + self.up_to(self.settings.delay_max_ms))
            .collect();
        self.counts.webhooks_delayed +=
            delays_ms.iter().filter(|d| **d > base_delay_ms).count() as u64;
        WebhookPlan { delays_ms }
    }

    fn chance(&mut self, share: f64) -> bool {
        share > 0.0 && self.rng.unit() < share
    }

    /// Uniform in `0..=max`.
    fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.rng.next() % (max + 1)
        }
    }
}

/// A small, fast generator; enough for test decisions, not for secrets.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chaos(settings: ChaosSettings) -> Chaos {
        Chaos::new(ChaosSettings {
            seed: 7,
            ..settings
        })
    }

    #[test]
    fn off_sends_every_webhook_once_at_once_and_fails_no_call() {
        let mut c = chaos(ChaosSettings::default());
        assert!(ChaosSettings::default().is_off());
        for first in [true, false] {
            assert_eq!(c.plan_webhook(first, 0).delays_ms, [0]);
        }
        assert!((0..1000).all(|_| !c.fail_call()));
        assert_eq!(c.counts, ChaosCounts::default());
    }

    #[test]
    fn the_test_knobs_delay_is_kept_and_not_counted_as_chaos() {
        let mut c = chaos(ChaosSettings::default());
        assert_eq!(c.plan_webhook(false, 300).delays_ms, [300]);
        assert_eq!(c.counts.webhooks_delayed, 0);
    }

    #[test]
    fn shares_come_out_near_what_was_asked_and_are_counted() {
        let mut c = chaos(ChaosSettings {
            drop_share: 0.1,
            duplicate_share: 0.2,
            fail_share: 0.3,
            ..ChaosSettings::default()
        });
        let plans: Vec<WebhookPlan> = (0..10_000).map(|_| c.plan_webhook(false, 0)).collect();
        let dropped = plans.iter().filter(|p| p.delays_ms.is_empty()).count() as u64;
        let doubled = plans.iter().filter(|p| p.delays_ms.len() == 2).count() as u64;
        assert_eq!(c.counts.webhooks_dropped, dropped);
        assert_eq!(c.counts.webhooks_duplicated, doubled);
        assert!((800..1200).contains(&dropped), "{dropped}");
        // Duplicates are drawn among the webhooks not dropped.
        assert!((1600..2000).contains(&doubled), "{doubled}");
        let failed = (0..10_000).filter(|_| c.fail_call()).count() as u64;
        assert_eq!(c.counts.calls_failed, failed);
        assert!((2700..3300).contains(&failed), "{failed}");
    }

    #[test]
    fn delays_stay_within_their_bounds_and_only_first_events_are_held() {
        let mut c = chaos(ChaosSettings {
            delay_max_ms: 100,
            reorder_window_ms: 1000,
            ..ChaosSettings::default()
        });
        let later: Vec<u64> = (0..500)
            .flat_map(|_| c.plan_webhook(false, 0).delays_ms)
            .collect();
        assert!(later.iter().all(|d| *d <= 100));
        let first: Vec<u64> = (0..500)
            .flat_map(|_| c.plan_webhook(true, 0).delays_ms)
            .collect();
        assert!(first.iter().all(|d| *d <= 1100));
        assert!(
            first.iter().any(|d| *d > 100),
            "the window holds some first events past any later one"
        );
        assert!(c.counts.webhooks_delayed > 900);
    }

    #[test]
    fn the_same_seed_decides_the_same_way() {
        let settings = ChaosSettings {
            drop_share: 0.3,
            duplicate_share: 0.3,
            delay_max_ms: 50,
            fail_share: 0.5,
            ..ChaosSettings::default()
        };
        let run = |mut c: Chaos| -> Vec<(Vec<u64>, bool)> {
            (0..200)
                .map(|i| (c.plan_webhook(i % 3 == 0, 0).delays_ms, c.fail_call()))
                .collect()
        };
        assert_eq!(run(chaos(settings.clone())), run(chaos(settings)));
    }
}
