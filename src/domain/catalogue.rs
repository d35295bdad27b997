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
}
