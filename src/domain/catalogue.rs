//! What the shop sells and how it ships.

use super::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Gross price, VAT included.
    pub price: Money,
    /// VAT rate in basis points (1900 = 19 %).
    pub vat_rate_bp: i64,
    pub stock: i64,
    pub active: bool,
}

impl Product {
    pub fn is_available(&self) -> bool {
        self.active && self.stock > 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    pub price: Money,
    pub vat_rate_bp: i64,
    /// Free when the goods are worth at least this much.
    pub free_above: Option<Money>,
}

impl ShippingMethod {
    pub fn price_for(&self, goods: Money) -> Money {
        match self.free_above {
            Some(threshold) if goods.minor >= threshold.minor => Money::zero(goods.currency),
            _ => self.price,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    pub code: String,
    /// 1..=100; applies to goods and shipping, so 100 makes the order free.
    pub percent: i64,
}

/// Voucher codes are matched case-insensitively and without surrounding blanks.
pub fn normalize_voucher_code(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

/// A quantity a shopper may put in the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const MAX: i64 = 99;

    pub fn parse(raw: &str) -> Result<Self, String> {
        // The message does not repeat what was typed: it goes into the
        // session, and a shopper (or a bot) may type anything.
        let value: i64 = raw.trim().parse().map_err(|_| {
            format!(
                "Please enter the quantity as a whole number from 1 to {}.",
                Self::MAX
            )
        })?;
        Self::new(value)
    }

    pub fn new(value: i64) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!("Please choose a quantity from 1 to {}.", Self::MAX))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;

    #[test]
    fn shipping_is_free_from_the_threshold() {
        let eur = Currency::parse("EUR").unwrap();
        let method = ShippingMethod {
            code: "standard".into(),
            name: "Standard".into(),
            price: Money::new(495, eur),
            vat_rate_bp: 1900,
            free_above: Some(Money::new(5000, eur)),
        };
        assert_eq!(method.price_for(Money::new(4999, eur)).minor, 495);
        assert_eq!(method.price_for(Money::new(5000, eur)).minor, 0);
    }

    #[test]
    fn quantity_bounds() {
        assert!(Quantity::parse("0").is_err());
        assert!(Quantity::parse("100").is_err());
        assert!(Quantity::parse("two").is_err());
        assert_eq!(Quantity::parse(" 3 ").unwrap().get(), 3);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// What lands in a quantity field: numbers of every size and sign,
        /// with blanks, and any text at all.
        fn typed_quantity() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                (-5i64..200).prop_map(|n| format!(" {n}\t")),
                "[-+]?[0-9]{0,25}(\\.[0-9]{0,3})?",
                any::<String>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn quantity_is_accepted_exactly_from_1_to_max(raw in typed_quantity()) {
                let expected = raw
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=Quantity::MAX).contains(n));
                match Quantity::parse(&raw) {
                    Ok(quantity) => prop_assert_eq!(Some(quantity.get()), expected),
                    Err(message) => {
                        prop_assert_eq!(expected, None);
                        // One of two fixed messages, never the input: it goes
                        // into the session.
                        let fixed = [
                            Quantity::parse("many").unwrap_err(),
                            Quantity::new(0).unwrap_err(),
                        ];
                        prop_assert!(fixed.contains(&message), "{}", message);
                    }
                }
            }

            #[test]
            fn a_quantity_reads_back_from_its_number(n in 1..=Quantity::MAX) {
                let quantity = Quantity::new(n).unwrap();
                prop_assert_eq!(Quantity::parse(&quantity.get().to_string()), Ok(quantity));
            }
        }
    }
}
