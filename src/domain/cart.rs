//! A cart line as the shopper put it in, next to the product as it is now, and
//! the rules that say whether the cart can still be ordered.

use super::catalogue::{Product, Quantity, QuantityError};
use super::checkout::CheckoutDetails;
use super::money::{Currency, Money};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: String,
    pub quantity: i64,
    /// The price the shopper saw when adding the item.
    pub unit_price: Money,
    /// The product as it is now; `None` when it was deleted.
    pub product: Option<Product>,
}

impl CartLine {
    pub fn name(&self) -> &str {
        self.product
            .as_ref()
            .map(|p| p.name.as_str())
            .unwrap_or(&self.product_id)
    }

    pub fn total(&self) -> Money {
        self.unit_price.times(self.quantity)
    }
}

/// A shopper's cart with the checkout details entered so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    pub id: String,
    pub user_id: Option<String>,
    pub status: CartStatus,
    pub checkout: Option<CheckoutDetails>,
    pub order_id: Option<String>,
    pub version: i64,
    pub lines: Vec<CartLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartStatus {
    Open,
    /// Its payment is running: it cannot change until it is ordered or
    /// opened again.
    Frozen,
    /// Turned into an order.
    Ordered,
}

super::stored_names!(CartStatus {
    Open => "open",
    Frozen => "frozen",
    Ordered => "ordered",
});

impl Cart {
    pub fn item_count(&self) -> i64 {
        item_count(&self.lines)
    }

    pub fn is_open(&self) -> bool {
        self.status == CartStatus::Open
    }
}

/// Who a cart belongs to: one account, or one guest session known by a
/// random secret that only that session holds. A cart is never reached by
/// its id alone, so a copied or planted session id is worth nothing once
/// the cart has changed hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    Account(String),
    Guest(String),
}

impl CartOwner {
    /// Whether a cart stored with these owner columns is this owner's. A
    /// cart with an account is that account's only, whatever guest secret
    /// it had before.
    pub fn owns(&self, user_id: Option<&str>, guest_token: Option<&str>) -> bool {
        match self {
            Self::Account(id) => user_id == Some(id.as_str()),
            Self::Guest(token) => user_id.is_none() && guest_token == Some(token.as_str()),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Account(id) => Some(id),
            Self::Guest(_) => None,
        }
    }

    pub fn guest_token(&self) -> Option<&str> {
        match self {
            Self::Account(_) => None,
            Self::Guest(token) => Some(token),
        }
    }
}

/// The quantity of a product in the account's cart after a guest cart with
/// `added` of it is merged in on login: the sum, as far as the stock and
/// the per-line maximum allow; what was there already is never lowered.
pub fn merged_quantity(product: &Product, existing: i64, added: i64) -> i64 {
    if !product.active {
        return existing;
    }
    let fits = (existing + added).min(product.stock).min(Quantity::MAX);
    fits.max(existing)
}

/// A change the shopper asks for on one line of the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRequest {
    /// Add this many to what is there.
    Add(Quantity),
    /// Make it this many.
    Set(Quantity),
    /// Take the line out of the cart.
    Remove,
}

impl LineRequest {
    /// The cart page's quantity field: a quantity sets the line, and 0
    /// takes it out, as shoppers expect of that field.
    pub fn from_quantity_field(raw: &str) -> Result<Self, QuantityError> {
        match raw.trim().parse::<i64>() {
            Ok(0) => Ok(Self::Remove),
            _ => Quantity::parse(raw).map(Self::Set),
        }
    }

    /// The line's quantity after the request; 0 removes it.
    pub fn wanted(self, existing: i64) -> i64 {
        match self {
            Self::Add(n) => existing.saturating_add(n.get()),
            Self::Set(n) => n.get(),
            Self::Remove => 0,
        }
    }
}

/// Why a cart action did nothing; the text is for the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartRefusal {
    #[error("Your cart is empty.")]
    NoCart,
    #[error(transparent)]
    Quantity(#[from] QuantityError),
    #[error(transparent)]
    Line(#[from] LineRefusal),
}

/// Why a line of the cart cannot change; the text is for the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineRefusal {
    #[error("This product does not exist.")]
    NoSuchProduct,
    #[error("{0} is no longer available.")]
    Unavailable(String),
    #[error("{0} is out of stock.")]
    OutOfStock(String),
    #[error("Only {stock} of {name} are in stock.")]
    NotEnough { name: String, stock: i64 },
    #[error("At most {} of one product fit in a cart.", Quantity::MAX)]
    TooMany,
    #[error("Your cart is being paid and cannot change now. Cancel the payment to change it.")]
    CartFrozen,
    #[error("This cart has already been ordered. Please start a new one.")]
    CartClosed,
}

/// Whether `quantity` of `product` may be in one cart.
pub fn check_quantity(product: &Product, quantity: i64) -> Result<(), LineRefusal> {
    if !product.active {
        return Err(LineRefusal::Unavailable(product.name.clone()));
    }
    if quantity > product.stock {
        return Err(match product.stock {
            0 => LineRefusal::OutOfStock(product.name.clone()),
            stock => LineRefusal::NotEnough {
                name: product.name.clone(),
                stock,
            },
        });
    }
    if quantity > Quantity::MAX {
        return Err(LineRefusal::TooMany);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartProblem {
    Empty,
    Unavailable {
        name: String,
    },
    OutOfStock {
        name: String,
        requested: i64,
        available: i64,
    },
    Repriced {
        name: String,
        was: Money,
        now: Money,
    },
}

impl fmt::Display for CartProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "Your cart is empty."),
            Self::Unavailable { name } => {
                write!(
                    f,
                    "{name} is no longer available. Please remove it from your cart."
                )
            }
            Self::OutOfStock {
                name,
                requested,
                available: 0,
            } => write!(
                f,
                "{name} is out of stock (you asked for {requested}). Please remove it from your cart."
            ),
            Self::OutOfStock {
                name,
                requested,
                available,
            } => write!(
                f,
                "Only {available} of {name} are in stock (you asked for {requested}). Please lower the quantity."
            ),
            Self::Repriced { name, was, now } => write!(
                f,
                "The price of {name} changed from {was} to {now}. Please confirm the new price in your cart."
            ),
        }
    }
}

/// Every reason the cart cannot be ordered as it is; empty when it can.
pub fn validate(lines: &[CartLine]) -> Vec<CartProblem> {
    if lines.is_empty() {
        return vec![CartProblem::Empty];
    }
    lines
        .iter()
        .filter_map(|line| {
            let name = line.name().to_owned();
            match &line.product {
                None => Some(CartProblem::Unavailable { name }),
                Some(p) if !p.active => Some(CartProblem::Unavailable { name }),
                Some(p) if p.stock < line.quantity => Some(CartProblem::OutOfStock {
                    name,
                    requested: line.quantity,
                    available: p.stock.max(0),
                }),
                Some(p) if p.price != line.unit_price => Some(CartProblem::Repriced {
                    name,
                    was: line.unit_price,
                    now: p.price,
                }),
                Some(_) => None,
            }
        })
        .collect()
}

pub fn item_count(lines: &[CartLine]) -> i64 {
    lines.iter().map(|l| l.quantity).sum()
}

pub fn subtotal(lines: &[CartLine], currency: Currency) -> Money {
    lines
        .iter()
        .fold(Money::zero(currency), |sum, line| sum + line.total())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    fn line(stock: i64, active: bool, price: i64, paid: i64, quantity: i64) -> CartLine {
        CartLine {
            product_id: "mug".into(),
            quantity,
            unit_price: eur(paid),
            product: Some(Product {
                id: "mug".into(),
                name: "Mug".into(),
                description: String::new(),
                price: eur(price),
                vat_rate_bp: 1900,
                stock,
                active,
            }),
        }
    }

    #[test]
    fn a_good_cart_has_no_problems() {
        assert!(validate(&[line(5, true, 900, 900, 2)]).is_empty());
    }

    #[test]
    fn each_problem_is_reported() {
        assert_eq!(validate(&[]), vec![CartProblem::Empty]);
        assert!(matches!(
            validate(&[line(5, false, 900, 900, 1)])[0],
            CartProblem::Unavailable { .. }
        ));
        assert!(matches!(
            validate(&[line(1, true, 900, 900, 2)])[0],
            CartProblem::OutOfStock { available: 1, .. }
        ));
        assert!(matches!(
            validate(&[line(5, true, 950, 900, 1)])[0],
            CartProblem::Repriced { .. }
        ));
        let mut deleted = line(5, true, 900, 900, 1);
        deleted.product = None;
        assert!(matches!(
            validate(&[deleted])[0],
            CartProblem::Unavailable { .. }
        ));
    }

    #[test]
    fn messages_name_the_product() {
        let problem = &validate(&[line(0, true, 900, 900, 2)])[0];
        assert!(problem.to_string().contains("Mug is out of stock"));
    }

    #[test]
    fn a_cart_is_its_owners_only() {
        let guest = CartOwner::Guest("secret".into());
        let account = CartOwner::Account("u1".into());
        assert!(guest.owns(None, Some("secret")));
        assert!(!guest.owns(None, Some("other")));
        assert!(!guest.owns(None, None));
        assert!(
            !guest.owns(Some("u1"), Some("secret")),
            "a cart taken over by an account is not the guest's any more"
        );
        assert!(account.owns(Some("u1"), None));
        assert!(!account.owns(Some("u2"), None));
        assert!(!account.owns(None, Some("secret")));
    }

    #[test]
    fn merging_adds_up_within_the_stock_and_the_line_maximum() {
        let product = |stock, active| line(stock, active, 900, 900, 1).product.unwrap();
        assert_eq!(merged_quantity(&product(10, true), 2, 3), 5);
        assert_eq!(merged_quantity(&product(3, true), 2, 3), 3);
        assert_eq!(merged_quantity(&product(500, true), 90, 20), Quantity::MAX);
        assert_eq!(
            merged_quantity(&product(1, true), 2, 3),
            2,
            "what was there stays"
        );
        assert_eq!(merged_quantity(&product(10, false), 0, 3), 0);
    }

    mod properties {
        use super::*;
        use crate::domain::catalogue::Quantity;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn a_quantity_fits_when_the_product_is_active_and_in_stock(
                stock in -5i64..200,
                active in any::<bool>(),
                quantity in 1..=Quantity::MAX,
            ) {
                let product = line(stock, active, 900, 900, quantity).product.unwrap();
                let fits = check_quantity(&product, quantity);
                prop_assert_eq!(fits.is_ok(), active && quantity <= stock);
                if let Err(refusal) = fits {
                    prop_assert!(refusal.to_string().contains("Mug"), "{}", refusal);
                }
            }

            #[test]
            fn validation_names_every_line_that_cannot_be_ordered(
                lines in prop::collection::vec(
                    (0i64..10, any::<bool>(), 800i64..1000, 800i64..1000, 1..=Quantity::MAX),
                    1..5,
                ),
            ) {
                let lines: Vec<CartLine> = lines
                    .into_iter()
                    .map(|(stock, active, price, paid, quantity)| line(stock, active, price, paid, quantity))
                    .collect();
                let orderable = |l: &CartLine| {
                    let p = l.product.as_ref().unwrap();
                    p.active && p.stock >= l.quantity && p.price == l.unit_price
                };
                let problems = validate(&lines);
                prop_assert_eq!(problems.len(), lines.iter().filter(|l| !orderable(l)).count());
                for problem in &problems {
                    prop_assert!(problem.to_string().contains("Mug"));
                }
                prop_assert_eq!(item_count(&lines), lines.iter().map(|l| l.quantity).sum::<i64>());
                prop_assert_eq!(
                    subtotal(&lines, eur(0).currency).minor,
                    lines.iter().map(|l| l.unit_price.minor * l.quantity).sum::<i64>()
                );
            }
        }
    }
}
