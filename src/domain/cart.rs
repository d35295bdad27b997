//! A cart line as the shopper put it in, next to the product as it is now, and
//! the rules that say whether the cart can still be ordered.

use super::catalogue::Product;
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

impl CartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Frozen => "frozen",
            Self::Ordered => "ordered",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Frozen, Self::Ordered]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

impl Cart {
    pub fn item_count(&self) -> i64 {
        item_count(&self.lines)
    }

    pub fn is_open(&self) -> bool {
        self.status == CartStatus::Open
    }
}

/// Whether `quantity` of `product` may be in one cart.
pub fn check_quantity(product: &Product, quantity: i64) -> Result<(), String> {
    if !product.active {
        return Err(format!("{} is no longer available.", product.name));
    }
    if quantity > product.stock {
        return Err(match product.stock {
            0 => format!("{} is out of stock.", product.name),
            n => format!("Only {n} of {} are in stock.", product.name),
        });
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
                if let Err(message) = fits {
                    prop_assert!(message.contains("Mug"), "{}", message);
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
