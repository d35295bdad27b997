//! What must hold when a frozen cart becomes an order: the rules the order
//! store checks inside its transaction, kept here so they are one pure
//! function the store calls.

use super::OrderDraft;
use crate::domain::cart::{Cart, CartProblem, CartStatus, validate};
use crate::domain::catalogue::{ShippingMethod, Voucher, VoucherProblem};
use crate::domain::money::Currency;
use crate::domain::order::OrderStatus;
use crate::domain::pricing::{Totals, totals};

/// Why a cart cannot become an order; the text is for the shopper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    #[error("Your cart no longer exists.")]
    CartGone,
    /// Only the attempt that froze the cart may order it.
    #[error("Your cart changed during checkout.")]
    CartNotFrozen,
    #[error("{}", join(.0))]
    InvalidCart(Vec<CartProblem>),
    #[error("{0}")]
    Voucher(VoucherProblem),
    /// The payment was started for another total.
    #[error(
        "The total of your order changed during checkout. Please check it and place the order again."
    )]
    TotalChanged,
    #[error("{0} sold out while you were checking out.")]
    SoldOut(String),
}

fn join(problems: &[CartProblem]) -> String {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    text.join(" ")
}

/// The totals of the order `draft` asks for, if `cart` may become it: frozen,
/// every line orderable, and priced (with the shipping method and voucher
/// as the shop keeps them now) at the total the payment was started for.
pub fn order_totals(
    draft: &OrderDraft,
    cart: &Cart,
    shipping: Option<&ShippingMethod>,
    voucher: Option<&Voucher>,
    currency: Currency,
) -> Result<Totals, OrderRefusal> {
    if cart.status != CartStatus::Frozen {
        return Err(OrderRefusal::CartNotFrozen);
    }
    let problems = validate(&cart.lines);
    if !problems.is_empty() {
        return Err(OrderRefusal::InvalidCart(problems));
    }
    let order_totals = totals(&cart.lines, shipping, voucher, currency);
    if order_totals.total != draft.expected_total {
        return Err(OrderRefusal::TotalChanged);
    }
    Ok(order_totals)
}

/// What the cart of a new order becomes: an order placed early waits for
/// its payment, so its cart stays frozen until the payment settles.
pub fn cart_status_after(order: OrderStatus) -> CartStatus {
    if order == OrderStatus::PendingPayment {
        CartStatus::Frozen
    } else {
        CartStatus::Ordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::placeorder::fake::{FakePorts, eur, frozen, shipping};

    fn draft(ports: &FakePorts) -> (OrderDraft, Cart) {
        let ctx = frozen(ports, false);
        let draft = OrderDraft {
            cart_id: ctx.cart_id.clone(),
            details: ctx.details.clone().unwrap(),
            status: OrderStatus::Placed,
            expected_total: ctx.amount.unwrap(),
            payment_key: None,
            registration_id: None,
            settlement: None,
        };
        let mut cart = ports.cart.clone();
        cart.status = CartStatus::Frozen;
        (draft, cart)
    }

    #[test]
    fn a_frozen_valid_cart_at_the_paid_total_is_ordered() {
        let ports = FakePorts::default();
        let (draft, cart) = draft(&ports);
        let t = order_totals(&draft, &cart, Some(&shipping()), None, eur()).unwrap();
        assert_eq!(t.total, draft.expected_total);
    }

    #[test]
    fn an_open_cart_another_total_or_a_sold_out_line_is_refused() {
        let ports = FakePorts::default();
        let shipping = Some(shipping());
        let (draft, mut cart) = draft(&ports);
        cart.status = CartStatus::Open;
        assert_eq!(
            order_totals(&draft, &cart, shipping.as_ref(), None, eur()),
            Err(OrderRefusal::CartNotFrozen)
        );

        let (mut draft, cart) = self::draft(&ports);
        draft.expected_total.minor += 1;
        assert_eq!(
            order_totals(&draft, &cart, shipping.as_ref(), None, eur()),
            Err(OrderRefusal::TotalChanged)
        );

        let (draft, mut cart) = self::draft(&ports);
        cart.lines[0].product.as_mut().unwrap().stock = 0;
        let refused = order_totals(&draft, &cart, shipping.as_ref(), None, eur());
        assert!(
            matches!(&refused, Err(OrderRefusal::InvalidCart(p)) if !p.is_empty()),
            "{refused:?}"
        );
    }
}
