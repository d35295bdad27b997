//! Carts served from memory on SQLite, where this process is the only
//! writer of the file. Every page with a cart reads it, and most pages
//! change nothing; reading it from SQLite took a fifth of such a page's
//! time (a read transaction, a join, rows decoded and parsed).
//!
//! The cache learns of every change from SQLite itself: temporary triggers
//! on the writing connections (`TRIGGERS`) call back into this process for
//! each changed row of `carts`, `cart_lines` and `products`, however the
//! change was written. A changed cart is dropped at once and neither
//! served nor stored again until the writer's turn ends (`settle`, after
//! its COMMIT or ROLLBACK), so no reader is served a version that a
//! commit has already replaced. A read stores its result only if nothing
//! changed while it ran (`generation`). A change to any product drops
//! every cart, since a cart shows its products' names, prices and stock.
//!
//! PostgreSQL has no such cache: several nodes write there.

use crate::domain::cart::Cart;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// At most this many carts are kept; a new one then pushes out another.
const CAPACITY: usize = 4096;

/// A cart as read, with who may see it.
#[derive(Debug)]
pub struct CachedCart {
    pub user_id: Option<String>,
    pub guest_token: Option<String>,
    pub cart: Cart,
}

#[derive(Default)]
pub struct CartCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Moves on at every change seen and at every turn's end.
    generation: u64,
    carts: HashMap<String, Arc<CachedCart>>,
    /// Carts the writer holding the turn has changed, not yet settled.
    changing: HashSet<String>,
    /// The writer holding the turn has changed a product.
    products_changing: bool,
}

/// The SQL run on every writing connection after `register`.
pub(crate) const TRIGGERS: &str = "
CREATE TEMP TRIGGER kassa_carts_inserted AFTER INSERT ON main.carts
  BEGIN SELECT kassa_cart_changed(NEW.id); END;
CREATE TEMP TRIGGER kassa_carts_updated AFTER UPDATE ON main.carts
  BEGIN SELECT kassa_cart_changed(OLD.id); SELECT kassa_cart_changed(NEW.id); END;
CREATE TEMP TRIGGER kassa_carts_deleted AFTER DELETE ON main.carts
  BEGIN SELECT kassa_cart_changed(OLD.id); END;
CREATE TEMP TRIGGER kassa_lines_inserted AFTER INSERT ON main.cart_lines
  BEGIN SELECT kassa_cart_changed(NEW.cart_id); END;
CREATE TEMP TRIGGER kassa_lines_updated AFTER UPDATE ON main.cart_lines
  BEGIN SELECT kassa_cart_changed(OLD.cart_id); SELECT kassa_cart_changed(NEW.cart_id); END;
CREATE TEMP TRIGGER kassa_lines_deleted AFTER DELETE ON main.cart_lines
  BEGIN SELECT kassa_cart_changed(OLD.cart_id); END;
CREATE TEMP TRIGGER kassa_products_inserted AFTER INSERT ON main.products
  BEGIN SELECT kassa_products_changed(); END;
CREATE TEMP TRIGGER kassa_products_updated AFTER UPDATE ON main.products
  BEGIN SELECT kassa_products_changed(); END;
CREATE TEMP TRIGGER kassa_products_deleted AFTER DELETE ON main.products
  BEGIN SELECT kassa_products_changed(); END;
";

diesel::define_sql_function! {
    /// Called by `TRIGGERS` for each changed cart or cart line.
    fn kassa_cart_changed(id: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

diesel::define_sql_function! {
    /// Called by `TRIGGERS` for each changed product.
    fn kassa_products_changed() -> diesel::sql_types::Integer;
}

impl CartCache {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives a writing connection the functions its `TRIGGERS` call.
    pub fn register(
        self: &Arc<Self>,
        conn: &mut diesel::SqliteConnection,
    ) -> diesel::QueryResult<()> {
        let cache = Arc::clone(self);
        kassa_cart_changed_utils::register_nondeterministic_impl(conn, move |id: String| {
            cache.cart_changing(id);
            0
        })?;
        let cache = Arc::clone(self);
        kassa_products_changed_utils::register_nondeterministic_impl(conn, move || {
            cache.products_changing();
            0
        })
    }

    /// The cart `id`, or the generation to hand to `keep` after reading it.
    pub fn get(&self, id: &str) -> Result<Arc<CachedCart>, u64> {
        let state = self.state();
        match state.carts.get(id) {
            Some(cached) => Ok(Arc::clone(cached)),
            None => Err(state.generation),
        }
    }

    /// Stores a cart read after `get` gave `seen`, unless anything changed
    /// since.
    pub fn keep(&self, id: &str, cached: Arc<CachedCart>, seen: u64) {
        let mut state = self.state();
        if state.generation != seen || state.products_changing || state.changing.contains(id) {
            return;
        }
        if state.carts.len() >= CAPACITY
            && let Some(other) = state.carts.keys().next().cloned()
        {
            state.carts.remove(&other);
        }
        state.carts.insert(id.to_owned(), cached);
    }

    fn cart_changing(&self, id: String) {
        let mut state = self.state();
        state.generation += 1;
        state.carts.remove(&id);
        state.changing.insert(id);
    }

    fn products_changing(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.carts.clear();
        state.products_changing = true;
    }

    /// The writer's turn ended: its changes are committed or gone.
    pub fn settle(&self) {
        let mut state = self.state();
        if state.changing.is_empty() && !state.products_changing {
            return;
        }
        state.generation += 1;
        state.changing.clear();
        state.products_changing = false;
    }
}
