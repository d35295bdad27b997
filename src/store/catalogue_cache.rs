//! The catalogue, shipping methods and vouchers, served from memory: every
//! page needs them and they change rarely. A snapshot is loaded in one read
//! and kept until this node commits a change to them (a cancellation gives
//! stock back, staff edit a product: the store functions that write them
//! say so, `changed`) or `ttl` has passed, which bounds how long another
//! node's change stays unseen here. Where this node is the only one that
//! writes (SQLite), an order's stock and voucher use are applied to the
//! snapshot in memory instead (`took`). Prices,
//! stock and voucher limits are checked again in the order's own
//! transaction, so a stale page never sells what is not there.

use crate::domain::catalogue::{Product, ShippingMethod, VoucherTerms};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub struct CatalogueCache {
    ttl: Duration,
    /// This node is the only one that writes (SQLite): its own orders are
    /// all the catalogue's changes but staff edits, which say `changed`.
    sole_writer: bool,
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
    pub fn new(ttl: Duration, sole_writer: bool) -> Self {
        Self {
            ttl,
            sole_writer,
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

/// What an order took from the catalogue: stock by product, and a use of
/// its voucher.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Taken {
    pub stock: Vec<(String, i64)>,
    pub voucher: Option<String>,
}

impl CatalogueCache {
    /// This node committed an order that took `taken`. The snapshot, if it
    /// was current, is kept with it applied, as reading it again would find
    /// it: every order read the whole catalogue again before. Any other
    /// snapshot is stale, as after `changed`; so is every snapshot where
    /// other nodes write too, so that their orders are read with this one's.
    pub fn took(&self, taken: &Taken) {
        if !self.sole_writer {
            self.changed();
            return;
        }
        let mut held = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        let before = self.generation.fetch_add(1, Ordering::AcqRel);
        let Some(current) = held.as_ref().filter(|s| s.generation == before) else {
            return;
        };
        let mut products = current.products.clone();
        for (id, quantity) in &taken.stock {
            if let Some(product) = products.iter_mut().find(|p| &p.id == id) {
                product.stock -= quantity;
            }
        }
        let mut vouchers = current.vouchers.clone();
        if let Some(terms) = taken.voucher.as_ref().and_then(|c| vouchers.get_mut(c)) {
            terms.uses += 1;
        }
        *held = Some(Arc::new(Snapshot {
            generation: before + 1,
            loaded: current.loaded,
            products,
            shipping_methods: current.shipping_methods.clone(),
            vouchers,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_fresh_until_a_commit_or_its_age() {
        let cache = CatalogueCache::new(Duration::from_secs(60), true);
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

        let uncached = CatalogueCache::new(Duration::ZERO, true);
        uncached.took(&Taken::default());
        assert!(uncached.fresh().is_none());
        uncached.keep(uncached.generation(), vec![], vec![], HashMap::new());
        assert!(uncached.fresh().is_none(), "a zero ttl keeps nothing");
    }

    fn product(id: &str, stock: i64) -> Product {
        Product {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            price: crate::domain::money::Money::new(
                100,
                crate::domain::money::Currency::parse("EUR").unwrap(),
            ),
            vat_rate_bp: 1900,
            stock,
            active: true,
        }
    }

    #[test]
    fn an_order_of_this_node_is_applied_to_a_current_snapshot() {
        let cache = CatalogueCache::new(Duration::from_secs(60), true);
        let generation = cache.generation();
        cache.keep(
            generation,
            vec![product("a", 5), product("b", 1)],
            vec![],
            HashMap::new(),
        );
        cache.took(&Taken {
            stock: vec![("a".into(), 2), ("b".into(), 1)],
            voucher: None,
        });
        let snapshot = cache.fresh().expect("kept with the order applied");
        assert_eq!(snapshot.product("a").unwrap().stock, 3);
        assert!(!snapshot.product("b").unwrap().is_available());

        // A read that began before the order is stale when it lands.
        let generation = cache.generation();
        cache.took(&Taken::default());
        cache.keep(generation, vec![product("a", 5)], vec![], HashMap::new());
        assert!(cache.fresh().is_none());
        // And an order then is not applied to it: the next read loads.
        cache.took(&Taken::default());
        assert!(cache.fresh().is_none());

        // Where other nodes write, an order of this node reads it again.
        let shared = CatalogueCache::new(Duration::from_secs(60), false);
        shared.keep(
            shared.generation(),
            vec![product("a", 5)],
            vec![],
            HashMap::new(),
        );
        shared.took(&Taken {
            stock: vec![("a".into(), 2)],
            voucher: None,
        });
        assert!(shared.fresh().is_none());
    }
}
