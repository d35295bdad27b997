//! The catalogue, shipping methods and vouchers, served from memory: every
//! page needs them and they change rarely. A snapshot is loaded in one read
//! and kept until this node commits a change to them (an order takes stock
//! or a voucher use, a cancellation gives them back: the store functions
//! that write them say so, `changed`) or `ttl` has passed,
//! which bounds how long another node's change stays unseen here. Prices,
//! stock and voucher limits are checked again in the order's own
//! transaction, so a stale page never sells what is not there.

use crate::domain::catalogue::{Product, ShippingMethod, VoucherTerms};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct CatalogueCache {
    ttl: Duration,
    /// Counts this node's commits that changed the catalogue: a snapshot
    /// of an older count may miss one of them.
    generation: AtomicU64,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
}

/// Everything read-mostly, as of one read.
pub struct Snapshot {
    generation: u64,
    loaded: Instant,
    /// Every product (inactive ones too), in catalogue order.
    pub products: Vec<Product>,
    pub shipping_methods: Vec<ShippingMethod>,
    /// By normalized code.
    pub vouchers: HashMap<String, VoucherTerms>,
}

impl Snapshot {
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }
}

impl CatalogueCache {
    /// `ttl` zero: every read loads afresh.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            snapshot: RwLock::new(None),
        }
    }

    /// This node committed something that may change the catalogue.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The generation to stamp on a snapshot whose read starts now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The snapshot, if no commit of this node came after it and it is
    /// younger than the ttl.
    pub fn fresh(&self) -> Option<Arc<Snapshot>> {
        let held = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|s| s.generation == self.generation() && s.loaded.elapsed() < self.ttl)
            .cloned()
    }

    /// Keeps a snapshot read from the store; `generation` was taken before
    /// the read began, so a commit during the read makes it stale at once.
    pub fn keep(
        &self,
        generation: u64,
        products: Vec<Product>,
        shipping_methods: Vec<ShippingMethod>,
        vouchers: HashMap<String, VoucherTerms>,
    ) -> Arc<Snapshot> {
        let snapshot = Arc::new(Snapshot {
            generation,
            loaded: Instant::now(),
            products,
            shipping_methods,
            vouchers,
        });
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_fresh_until_a_commit_or_its_age() {
        let cache = CatalogueCache::new(Duration::from_secs(60));
        assert!(cache.fresh().is_none());
        let generation = cache.generation();
        cache.keep(generation, vec![], vec![], HashMap::new());
        assert!(cache.fresh().is_some());
        cache.changed();
        assert!(cache.fresh().is_none(), "a commit makes it stale");

        // A commit while the snapshot was read: stale as soon as kept.
        let generation = cache.generation();
        cache.changed();
        cache.keep(generation, vec![], vec![], HashMap::new());
        assert!(cache.fresh().is_none());

        let uncached = CatalogueCache::new(Duration::ZERO);
        uncached.keep(uncached.generation(), vec![], vec![], HashMap::new());
        assert!(uncached.fresh().is_none(), "a zero ttl keeps nothing");
    }
}
