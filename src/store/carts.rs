//! Carts and their lines. Every change bumps the cart's version and takes
//! back the shopper's confirmation, so an order is never placed for a cart
//! other than the one reviewed.

use super::cart_cache::CachedCart;
use super::prepared::Prepare;
use super::processes::{Fence, hold_fence};
use super::registrations::NewRegistration;
use super::rows::{CartLineRow, CartRow, ProductRow};
use super::schema::{cart_lines, carts, products};
use super::{Store, StoreError, StoreResult, light_conn, light_tx, now, read};
use crate::domain::cart::{
    Cart, CartLine, CartOwner, CartStatus, LineRefusal, LineRequest, check_quantity,
    merged_quantity,
};
use crate::domain::checkout::CheckoutDetails;
use crate::domain::money::{Currency, Money};
use crate::ids::new_id;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::sync::Arc;

/// What became of a change to the cart's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineChange {
    Done,
    /// A rule of the domain said no.
    Refused(LineRefusal),
}

type LineWithProduct = (CartLineRow, Option<ProductRow>);

/// An empty open cart of `owner`'s, not yet stored.
fn new_cart_row(owner: &CartOwner) -> CartRow {
    let at = now();
    CartRow {
        id: new_id(),
        user_id: owner.user_id().map(str::to_owned),
        guest_token: owner.guest_token().map(str::to_owned),
        status: CartStatus::Open.as_str().into(),
        checkout: None,
        order_id: None,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

pub(super) fn to_cart(row: CartRow, lines: Vec<LineWithProduct>) -> StoreResult<Cart> {
    let lines = lines
        .into_iter()
        .map(|(line, product)| {
            let product = product.map(ProductRow::into_domain).transpose()?;
            // A line keeps the currency of its product; the shop has one.
            let currency = match &product {
                Some(p) => p.price.currency,
                None => Currency::parse("EUR").map_err(StoreError::Corrupt)?,
            };
            Ok(CartLine {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_price: Money::new(line.unit_price_minor, currency),
                product,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let checkout = row
        .checkout
        .as_deref()
        .map(serde_json::from_str::<CheckoutDetails>)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("cart {} checkout: {e}", row.id)))?;
    Ok(Cart {
        status: CartStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("cart status {}", row.status)))?,
        id: row.id,
        user_id: row.user_id,
        checkout,
        order_id: row.order_id,
        version: row.version,
        lines,
    })
}

/// Loads a cart and its lines on an open connection (inside or outside a
/// transaction).
macro_rules! cart_rows {
    ($id:expr) => {{
        use $crate::store::rows::{CartLineRow, CartRow, ProductRow};
        use $crate::store::schema::{cart_lines, carts, products};
        // One query: the cart row comes once per line (or once, with no
        // line), its lines in the order they were added.
        carts::table
            .left_join(cart_lines::table.on(cart_lines::cart_id.eq(carts::id)))
            .left_join(products::table.on(products::id.eq(cart_lines::product_id)))
            .filter(carts::id.eq($id))
            .order((cart_lines::added_at.asc(), cart_lines::product_id.asc()))
            .select((
                CartRow::as_select(),
                Option::<CartLineRow>::as_select(),
                Option::<ProductRow>::as_select(),
            ))
    }};
}
pub(crate) use cart_rows;

/// A cart row with its lines and their products, as `cart_rows!` reads them.
pub(crate) type CartRows = (CartRow, Vec<(CartLineRow, Option<ProductRow>)>);

/// The rows of `cart_rows!` as one cart row and its lines.
pub(crate) fn group_cart_rows(
    rows: Vec<(CartRow, Option<CartLineRow>, Option<ProductRow>)>,
) -> Option<CartRows> {
    let mut rows = rows.into_iter();
    let (row, first, first_product) = rows.next()?;
    let lines = first
        .map(|line| (line, first_product))
        .into_iter()
        .chain(rows.filter_map(|(_, line, product)| line.map(|l| (l, product))))
        .collect();
    Some((row, lines))
}

/// The cart `$id` with its lines, read on `$c` inside a transaction.
macro_rules! load_cart {
    ($c:expr, $id:expr) => {
        $crate::store::carts::group_cart_rows($crate::store::carts::cart_rows!($id).load($c).await?)
    };
}
pub(crate) use load_cart;

/// Marks a cart as changed: a new version, so a checkout confirmed for
/// the old one fails its check.
macro_rules! touch_cart {
    ($c:expr, $id:expr) => {
        diesel::update(carts::table.find($id))
            .set((
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(now()),
            ))
            .prepared()
            .execute($c)
            .await
    };
}

impl Store {
    pub async fn create_cart(&self, owner: &CartOwner) -> StoreResult<String> {
        let row = new_cart_row(owner);
        light_conn!(self, |c| {
            diesel::insert_into(carts::table)
                .values(&row)
                .execute(c)
                .await
        })?;
        Ok(row.id)
    }

    /// A new cart of `owner`'s with its first line, in one commit; the
    /// cart is made even if the line is refused, as by `create_cart`.
    pub async fn create_cart_with_line(
        &self,
        owner: &CartOwner,
        product_id: &str,
        request: LineRequest,
    ) -> StoreResult<(String, LineChange)> {
        let row = new_cart_row(owner);
        let change = self
            .change_line_of(Some(&row), &row.id, product_id, request)
            .await?;
        Ok((row.id, change))
    }

    /// The cart row and its lines: on every page, so on SQLite it runs
    /// on diesel's own connection, where rows are read in place (the async
    /// interface copies every row out first).
    async fn read_cart(&self, id: &str) -> StoreResult<Option<CartRows>> {
        let rows = match self.read_conn().await? {
            super::ReadConn::Sqlite(mut conn) => {
                diesel::RunQueryDsl::load(cart_rows!(id), conn.sync())?
            }
            super::ReadConn::Pg(mut conn) => cart_rows!(id).load(&mut *conn).await?,
        };
        Ok(group_cart_rows(rows))
    }

    /// The cart with who may see it: on SQLite from memory while unchanged
    /// (see `cart_cache`).
    async fn loaded_cart(&self, id: &str) -> StoreResult<Option<Arc<CachedCart>>> {
        let cache = match &self.pool {
            super::DbPool::Sqlite { carts, .. } => Some(carts),
            super::DbPool::Pg(_) => None,
        };
        let seen = match cache.map(|c| c.get(id)) {
            Some(Ok(cached)) => return Ok(Some(cached)),
            Some(Err(seen)) => Some(seen),
            None => None,
        };
        let Some((row, lines)) = self.read_cart(id).await? else {
            return Ok(None);
        };
        let cached = Arc::new(CachedCart {
            user_id: row.user_id.clone(),
            guest_token: row.guest_token.clone(),
            cart: to_cart(row, lines)?,
        });
        if let (Some(cache), Some(seen)) = (cache, seen) {
            cache.keep(id, Arc::clone(&cached), seen);
        }
        Ok(Some(cached))
    }

    pub async fn cart(&self, id: &str) -> StoreResult<Option<Cart>> {
        Ok(self.loaded_cart(id).await?.map(|c| c.cart.clone()))
    }

    /// The cart `id` if it is `owner`'s: how a shopper's own cart is found.
    pub async fn cart_of(&self, id: &str, owner: &CartOwner) -> StoreResult<Option<Cart>> {
        Ok(self
            .loaded_cart(id)
            .await?
            .filter(|c| owner.owns(c.user_id.as_deref(), c.guest_token.as_deref()))
            .map(|c| c.cart.clone()))
    }

    /// The newest open cart of a user, to resume after logging in.
    pub async fn open_cart_of_user(&self, user_id: &str) -> StoreResult<Option<String>> {
        Ok(read!(self, |c| {
            carts::table
                .filter(carts::user_id.eq(user_id))
                .filter(carts::status.eq(CartStatus::Open.as_str()))
                .order(carts::updated_at.desc())
                .select(carts::id)
                .first::<String>(c)
                .await
                .optional()
        })?)
    }

    /// A guest logging in hands their open cart to the account: its lines
    /// are added to the account's open cart, or, if the account has none,
    /// the cart itself changes hands. Either way the guest secret reaches it
    /// no more, and the details typed into it as a guest are dropped, so
    /// whoever else held that guest session can neither read what the
    /// account's shopper enters next nor plant an address in their form.
    /// Returns the account's cart; `None` when that session has no open
    /// cart of its own (a frozen one stays where it is, its payment running).
    pub async fn merge_guest_cart(
        &self,
        cart_id: &str,
        guest_token: &str,
        user_id: &str,
    ) -> StoreResult<Option<String>> {
        light_tx!(self, |c| {
            let account_cart: Option<String> = carts::table
                .filter(carts::user_id.eq(user_id))
                .filter(carts::status.eq(CartStatus::Open.as_str()))
                .order(carts::updated_at.desc())
                .select(carts::id)
                .first(c)
                .await
                .optional()?;
            // Taken by compare-and-swap on its owner: of two logins from
            // copies of one guest session, only one gets the cart.
            let guest_cart = carts::table
                .find(cart_id)
                .filter(carts::user_id.is_null())
                .filter(carts::guest_token.eq(guest_token))
                .filter(carts::status.eq(CartStatus::Open.as_str()));
            let taken = diesel::update(guest_cart)
                .set((
                    // With an account cart to merge into, nobody's.
                    carts::user_id.eq(account_cart.is_none().then_some(user_id)),
                    carts::guest_token.eq(None::<String>),
                    carts::checkout.eq(None::<String>),
                    carts::version.eq(carts::version + 1),
                    carts::updated_at.eq(now()),
                ))
                .prepared()
                .execute(c)
                .await?;
            if taken == 0 {
                return Ok(None);
            }
            let Some(account_cart) = account_cart else {
                return Ok(Some(cart_id.to_owned()));
            };
            let lines: Vec<LineWithProduct> = cart_lines::table
                .left_join(products::table.on(products::id.eq(cart_lines::product_id)))
                .filter(cart_lines::cart_id.eq(cart_id))
                .select((CartLineRow::as_select(), Option::<ProductRow>::as_select()))
                .load(c)
                .await?;
            for (line, product) in lines {
                // A deleted product has nothing left to order.
                let Some(product) = product.map(ProductRow::into_domain).transpose()? else {
                    continue;
                };
                let existing: i64 = cart_lines::table
                    .find((&account_cart, &line.product_id))
                    .select(cart_lines::quantity)
                    .first(c)
                    .await
                    .optional()?
                    .unwrap_or(0);
                let merged = merged_quantity(&product, existing, line.quantity);
                if merged == existing {
                    continue;
                }
                diesel::insert_into(cart_lines::table)
                    .values(CartLineRow {
                        cart_id: account_cart.clone(),
                        product_id: line.product_id,
                        quantity: merged,
                        unit_price_minor: product.price.minor,
                        added_at: now(),
                    })
                    .on_conflict((cart_lines::cart_id, cart_lines::product_id))
                    .do_update()
                    .set((
                        cart_lines::quantity.eq(merged),
                        cart_lines::unit_price_minor.eq(product.price.minor),
                    ))
                    .prepared()
                    .execute(c)
                    .await?;
            }
            // The guest cart stays behind empty and owned by nobody (orders,
            // processes and registrations may still point at it).
            diesel::delete(cart_lines::table.filter(cart_lines::cart_id.eq(cart_id)))
                .execute(c)
                .await?;
            touch_cart!(c, &account_cart)?;
            Ok::<_, StoreError>(Some(account_cart))
        })
    }

    /// Changes the quantity of a product in the cart as `request` says (0
    /// or less removes the line), if the domain's rules allow it. The line
    /// takes the current price: the shopper sees it on the cart page.
    pub async fn change_line(
        &self,
        cart_id: &str,
        product_id: &str,
        request: LineRequest,
    ) -> StoreResult<LineChange> {
        self.change_line_of(None, cart_id, product_id, request)
            .await
    }

    /// `change_line`, first inserting the cart `new` when given.
    async fn change_line_of(
        &self,
        new: Option<&CartRow>,
        cart_id: &str,
        product_id: &str,
        request: LineRequest,
    ) -> StoreResult<LineChange> {
        light_tx!(self, |c| {
            if let Some(row) = new {
                diesel::insert_into(carts::table)
                    .values(row)
                    .execute(c)
                    .await?;
            }
            let status: Option<String> = carts::table
                .find(cart_id)
                .select(carts::status)
                .first(c)
                .await
                .optional()?;
            match status.as_deref().and_then(CartStatus::parse) {
                Some(CartStatus::Open) => {}
                Some(CartStatus::Frozen) => {
                    return Ok(LineChange::Refused(LineRefusal::CartFrozen));
                }
                _ => return Ok(LineChange::Refused(LineRefusal::CartClosed)),
            }
            let existing: i64 = cart_lines::table
                .find((cart_id, product_id))
                .select(cart_lines::quantity)
                .first(c)
                .await
                .optional()?
                .unwrap_or(0);
            let wanted = request.wanted(existing);
            if wanted <= 0 {
                diesel::delete(cart_lines::table.find((cart_id, product_id)))
                    .execute(c)
                    .await?;
                touch_cart!(c, cart_id)?;
                return Ok(LineChange::Done);
            }
            let product: Option<ProductRow> = products::table
                .find(product_id)
                .select(ProductRow::as_select())
                .first(c)
                .await
                .optional()?;
            let Some(product) = product.map(ProductRow::into_domain).transpose()? else {
                return Ok(LineChange::Refused(LineRefusal::NoSuchProduct));
            };
            if let Err(refusal) = check_quantity(&product, wanted) {
                return Ok(LineChange::Refused(refusal));
            }
            diesel::insert_into(cart_lines::table)
                .values(CartLineRow {
                    cart_id: cart_id.to_owned(),
                    product_id: product_id.to_owned(),
                    quantity: wanted,
                    unit_price_minor: product.price.minor,
                    added_at: now(),
                })
                .on_conflict((cart_lines::cart_id, cart_lines::product_id))
                .do_update()
                .set((
                    cart_lines::quantity.eq(wanted),
                    cart_lines::unit_price_minor.eq(product.price.minor),
                ))
                .prepared()
                .execute(c)
                .await?;
            touch_cart!(c, cart_id)?;
            Ok::<_, StoreError>(LineChange::Done)
        })
    }

    /// Stores the checkout form if the cart is still open at `version`,
    /// and the buyer's new registration if the form's check made one.
    pub async fn save_checkout(
        &self,
        cart_id: &str,
        version: i64,
        details: &CheckoutDetails,
        registration: Option<&NewRegistration>,
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(details).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = now();
        macro_rules! save {
            ($c:ident) => {
                diesel::update(
                    carts::table
                        .find(cart_id)
                        .filter(carts::version.eq(version))
                        .filter(carts::status.eq(CartStatus::Open.as_str())),
                )
                .set((
                    carts::checkout.eq(&json),
                    carts::version.eq(carts::version + 1),
                    carts::updated_at.eq(at),
                ))
                .prepared()
                .execute($c)
                .await
            };
        }
        let updated = match registration {
            // The registration the form's check just made lands with the
            // form: one commit instead of two. It is the cart's even if
            // the cart changed meanwhile, so that it is confirmed or
            // cleaned up later.
            Some(new) => light_tx!(self, |c| {
                super::registrations::record_registration!(c, new, at);
                Ok::<_, StoreError>(save!(c)?)
            })?,
            None => light_conn!(self, |c| save!(c))?,
        };
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("cart changed while saving checkout"))
        }
    }

    /// Freezes an open cart still at `version`. A cart frozen already is
    /// the running process's own (one runs per cart), so that is a yes too.
    pub async fn freeze_cart(
        &self,
        cart_id: &str,
        version: i64,
        fence: &Fence<'_>,
    ) -> StoreResult<bool> {
        let frozen = light_tx!(self, |c| {
            hold_fence!(c, fence);
            struct CartFrozen;
            let changed = diesel::update(
                carts::table
                    .find(cart_id)
                    .filter(carts::version.eq(version))
                    .filter(carts::status.eq(CartStatus::Open.as_str())),
            )
            .set((
                carts::status.eq(CartStatus::Frozen.as_str()),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(now()),
            ))
            .prepared_as::<CartFrozen>()
            .execute(c)
            .await?;
            if changed == 1 {
                return Ok(true);
            }
            let status: Option<String> = carts::table
                .find(cart_id)
                .select(carts::status)
                .first(c)
                .await
                .optional()?;
            Ok::<_, StoreError>(status.as_deref() == Some(CartStatus::Frozen.as_str()))
        })?;
        Ok(frozen)
    }

    /// Opens a frozen cart again, lines intact.
    pub async fn reopen_cart(&self, cart_id: &str, fence: &Fence<'_>) -> StoreResult<()> {
        light_tx!(self, |c| {
            hold_fence!(c, fence);
            diesel::update(
                carts::table
                    .find(cart_id)
                    .filter(carts::status.eq(CartStatus::Frozen.as_str())),
            )
            .set((
                carts::status.eq(CartStatus::Open.as_str()),
                carts::version.eq(carts::version + 1),
                carts::updated_at.eq(now()),
            ))
            .prepared()
            .execute(c)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }
}
