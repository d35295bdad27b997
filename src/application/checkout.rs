//! The checkout steps: the form, the review, the payment and placing the
//! order. Pages call these; the rules live in the domain.

use super::Shop;
use super::cart::{CartClaim, shoppers_cart};
use super::orders;
use crate::application::error::{AppError, AppResult};
use crate::application::placeorder::{self, ProcessStatus, StartRefused};
use crate::application::registration::{self, RegistrationProblem};
use crate::domain::cart::{Cart, CartOwner, CartProblem, CartStatus, validate};
use crate::domain::catalogue::{ShippingMethod, normalize_voucher_code};
use crate::domain::checkout::{self, CheckoutDetails, CheckoutInput, CheckoutRules};
use crate::domain::field_errors::FieldErrors;
use crate::domain::order::OrderStatus;
use crate::domain::payment::PaymentMethodOption;
use crate::domain::pricing::{Totals, totals};

/// Everything the checkout form page shows.
#[derive(Debug, Clone)]
pub struct CheckoutView {
    pub cart: Cart,
    pub input: CheckoutInput,
    pub errors: FieldErrors,
    pub problems: Vec<CartProblem>,
    pub shipping_methods: Vec<ShippingMethod>,
    pub payment_methods: Vec<PaymentMethodOption>,
    pub totals: Totals,
    /// A message about the whole form (not one field).
    pub notice: Option<String>,
}

/// Everything the review page shows.
#[derive(Debug, Clone)]
pub struct ReviewView {
    pub cart: Cart,
    pub details: CheckoutDetails,
    pub totals: Totals,
    pub shipping_method: String,
    pub payment_method: Option<String>,
}

pub enum Submitted {
    /// Stored; without a review step the order is being placed.
    Saved {
        placing: Option<Result<ProcessStatus, StartRefused>>,
    },
    Rejected(Box<CheckoutView>),
}

/// The shopper's cart, open or with its payment running, if the session
/// names one of theirs that was not ordered yet.
pub async fn current_cart(shop: &Shop, claim: &CartClaim) -> AppResult<Option<Cart>> {
    Ok(shoppers_cart(shop, claim)
        .await?
        .filter(|c| c.status != CartStatus::Ordered))
}

/// The shopper's latest attempt at paying for their cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The session names no cart of this shopper's.
    NoCart,
    /// No attempt to show: none started, its order was cancelled and the
    /// cart given back, or (when cancelling) none still running.
    None,
    Status(ProcessStatus),
}

/// The payment step: the shopper's latest attempt, moved on as far as it
/// goes now.
pub async fn attempt(shop: &Shop, claim: &CartClaim) -> AppResult<Attempt> {
    let Some(cart) = shoppers_cart(shop, claim).await? else {
        return Ok(Attempt::NoCart);
    };
    Ok(placeorder::refresh_cart(shop, &cart.id)
        .await?
        .map_or(Attempt::None, Attempt::Status))
}

/// The waiting page's cancel button: the shopper's running attempt rolled
/// back, the cart theirs again.
pub async fn cancel_attempt(shop: &Shop, claim: &CartClaim) -> AppResult<Attempt> {
    let Some(cart) = shoppers_cart(shop, claim).await? else {
        return Ok(Attempt::NoCart);
    };
    Ok(placeorder::cancel_cart(shop, &cart.id)
        .await?
        .map_or(Attempt::None, Attempt::Status))
}

/// What asking for the cart of a cancelled order gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// The cart is open again and the shopper's: the session may name it.
    Restored { cart_id: String },
    /// Not this shopper's cart: the order link alone does not hand out a
    /// cart with the buyer's details. Logging in as the buyer may.
    NotYours,
    /// The order was not cancelled, or its cart is not open.
    Unavailable,
}

/// Gives back the cart of an order cancelled because its money never came,
/// to the guest session that filled it or the account that ordered it.
/// The order is the one behind a confirmation link: not found unless the
/// token is its secret.
pub async fn restore(
    shop: &Shop,
    owner: Option<&CartOwner>,
    number: &str,
    token: &str,
) -> AppResult<Restore> {
    let order = orders::for_confirmation(shop, number, token)
        .await?
        .ok_or(AppError::NotFound)?;
    if order.status != OrderStatus::Cancelled {
        return Ok(Restore::Unavailable);
    }
    let claim = CartClaim {
        cart_id: Some(order.cart_id.clone()),
        owner: owner.cloned(),
    };
    Ok(match shoppers_cart(shop, &claim).await? {
        Some(cart) if cart.is_open() => Restore::Restored { cart_id: cart.id },
        Some(_) => Restore::Unavailable,
        None => Restore::NotYours,
    })
}

pub fn cart_problems(cart: &Cart) -> Vec<CartProblem> {
    validate(&cart.lines)
}

fn rules<'a>(
    shop: &Shop,
    shipping_methods: &'a [ShippingMethod],
    payment_methods: &'a [PaymentMethodOption],
) -> CheckoutRules<'a> {
    let flags = &shop.settings.checkout;
    let now = crate::clock::now();
    CheckoutRules {
        use_delivery_forms: flags.use_delivery_forms,
        use_personal_data_form: flags.use_personal_data_form,
        privacy_policy_required: flags.privacy_policy_required,
        minimum_age: flags.minimum_age,
        today: now.date(),
        now,
        shipping_methods,
        payment_methods,
        currency: shop.currency,
    }
}

/// The shipping method the shopper picked, or the default one.
fn chosen_shipping<'a>(methods: &'a [ShippingMethod], code: &str) -> Option<&'a ShippingMethod> {
    methods.iter().find(|m| m.code == code).or(methods.first())
}

fn cart_totals(
    shop: &Shop,
    cart: &Cart,
    methods: &[ShippingMethod],
    details: &CheckoutDetails,
) -> Totals {
    totals(
        &cart.lines,
        chosen_shipping(methods, &details.shipping_method),
        details.voucher.as_ref(),
        shop.currency,
    )
}

async fn view(
    shop: &Shop,
    cart: Cart,
    input: CheckoutInput,
    errors: FieldErrors,
) -> AppResult<CheckoutView> {
    let shipping_methods = shop.store.shipping_methods().await?;
    let voucher = cart.checkout.as_ref().and_then(|d| d.voucher.clone());
    let order_totals = totals(
        &cart.lines,
        chosen_shipping(&shipping_methods, &input.shipping_method),
        voucher.as_ref(),
        shop.currency,
    );
    Ok(CheckoutView {
        problems: cart_problems(&cart),
        payment_methods: shop.gateways.methods(),
        shipping_methods,
        totals: order_totals,
        cart,
        input,
        errors,
        notice: None,
    })
}

/// The form, prefilled from (first match wins) what the shopper entered for
/// this cart, their last order, or the configured defaults.
pub async fn form(shop: &Shop, cart: Cart, user_id: Option<&str>) -> AppResult<CheckoutView> {
    let mut input = shop.settings.checkout_defaults();
    if input.delivery_same_as_billing.is_empty() {
        input.delivery_same_as_billing = "on".into();
    }
    let previous = match (&cart.checkout, user_id) {
        (Some(details), _) => Some(details.clone()),
        (None, Some(user)) => shop.store.last_order_details(user).await?,
        (None, None) => None,
    };
    if let Some(details) = previous {
        input.prefill_from(&details);
    }
    view(shop, cart, input, FieldErrors::default()).await
}

/// Checks and stores the form. Without a review step the submission is the
/// shopper's "place order".
pub async fn submit(shop: &Shop, cart: Cart, input: CheckoutInput) -> AppResult<Submitted> {
    let problems = cart_problems(&cart);
    if !problems.is_empty() {
        return Ok(Submitted::Rejected(Box::new(
            view(shop, cart, input, FieldErrors::default()).await?,
        )));
    }
    let shipping_methods = shop.store.shipping_methods().await?;
    let payment_methods = shop.gateways.methods();
    let code = normalize_voucher_code(&input.voucher_code);
    let voucher = if code.is_empty() {
        None
    } else {
        shop.store.voucher(&code).await?
    };
    let parsed = checkout::parse(
        &input,
        &rules(shop, &shipping_methods, &payment_methods),
        &cart.lines,
        voucher,
        crate::ids::new_idempotency_key(),
    );
    let details = match parsed {
        Ok((details, _)) => details,
        Err(errors) => {
            return Ok(Submitted::Rejected(Box::new(
                view(shop, cart, input, errors).await?,
            )));
        }
    };
    // The cart validator of the external registration: a refusal is the
    // email field's problem; no answer, the whole form's.
    let registered = match registration::check(shop, &cart.id, details.email.as_str()).await? {
        Ok(checked) => checked,
        Err(RegistrationProblem::Refused(reason)) => {
            let mut errors = FieldErrors::default();
            errors.add("email", reason);
            return Ok(Submitted::Rejected(Box::new(
                view(shop, cart, input, errors).await?,
            )));
        }
        Err(RegistrationProblem::Unavailable) => {
            let mut page = view(shop, cart, input, FieldErrors::default()).await?;
            page.notice = Some(registration::UNAVAILABLE_MESSAGE.into());
            return Ok(Submitted::Rejected(Box::new(page)));
        }
    };
    match shop
        .store
        .save_checkout(&cart.id, cart.version, &details, registered.unrecorded())
        .await
    {
        // Without a review, the form just saved is what was reviewed.
        Ok(()) if shop.settings.checkout.skip_review_action => Ok(Submitted::Saved {
            placing: Some(placeorder::start(shop, &cart.id, None, cart.version + 1).await?),
        }),
        Ok(()) => Ok(Submitted::Saved { placing: None }),
        Err(e) if e.is_retryable() => {
            // The cart changed in another tab meanwhile: show it as it is now.
            let cart = shop.store.cart(&cart.id).await?.ok_or(AppError::NotFound)?;
            let mut page = view(shop, cart, input, FieldErrors::default()).await?;
            page.notice = Some("Your cart changed while you were checking out. Please check it and send the form again.".into());
            Ok(Submitted::Rejected(Box::new(page)))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn review(shop: &Shop, cart: Cart) -> AppResult<Option<ReviewView>> {
    let Some(details) = cart.checkout.clone() else {
        return Ok(None);
    };
    let methods = shop.store.shipping_methods().await?;
    let order_totals = cart_totals(shop, &cart, &methods, &details);
    let shipping_method = chosen_shipping(&methods, &details.shipping_method)
        .map(|m| m.name.clone())
        .unwrap_or_else(|| details.shipping_method.clone());
    let payment_method = details.payment.as_ref().map(|p| {
        shop.gateways
            .methods()
            .into_iter()
            .find(|o| o.form_value() == p.form_value())
            .map(|o| o.title)
            .unwrap_or_else(|| p.method.clone())
    });
    Ok(Some(ReviewView {
        cart,
        details,
        totals: order_totals,
        shipping_method,
        payment_method,
    }))
}

/// The shopper's "Place order" for the cart version they reviewed: the
/// registration is checked again (a failed attempt deletes it), then the
/// place-order process starts.
pub async fn place(
    shop: &Shop,
    cart: Cart,
    reviewed_version: i64,
) -> AppResult<Result<ProcessStatus, StartRefused>> {
    let cart_id = cart.id.clone();
    placeorder::start(shop, &cart_id, Some(cart), reviewed_version).await
}
