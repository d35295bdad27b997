//! Pure types and rules of the shop. Nothing here does I/O.

/// One table per enum between its variants and the names they are stored
/// and sent under: `ALL`, `as_str` and `parse` all come from it.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use stored_names;

pub mod account;
pub mod actor;
pub mod address;
pub mod back_office;
pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod events;
pub mod field_errors;
pub mod fulfilment;
pub mod idempotency;
pub mod mail;
pub mod money;
pub mod order;
pub mod password_reset;
pub mod payment;
pub mod placeorder;
pub mod pricing;
pub mod staff;

#[cfg(test)]
mod tests {
    use super::cart::CartStatus;
    use super::events::EventKind;
    use super::order::OrderStatus;
    use super::payment::PaymentStatus;

    /// Every stored name reads back as its variant, and names are unique.
    #[test]
    fn stored_names_round_trip() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            name: impl Fn(T) -> &'static str,
            parse: impl Fn(&str) -> Option<T>,
        ) {
            let mut names: Vec<&str> = all.iter().map(|&v| name(v)).collect();
            for &v in all {
                assert_eq!(parse(name(v)), Some(v));
            }
            assert_eq!(parse("no such name"), None);
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all.len(), "names are unique");
        }
        check(OrderStatus::ALL, OrderStatus::as_str, OrderStatus::parse);
        check(CartStatus::ALL, CartStatus::as_str, CartStatus::parse);
        check(
            PaymentStatus::ALL,
            PaymentStatus::as_str,
            PaymentStatus::parse,
        );
        check(EventKind::ALL, EventKind::as_str, EventKind::parse);
    }
}
