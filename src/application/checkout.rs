//! The checkout steps: the form, the review, the payment and placing the
//! order. Pages call these; the rules live in the domain.

use super::{Shop, random_token};
use crate::domain::cart::{Cart, CartProblem, validate};
use crate::domain::catalogue::{ShippingMethod, normalize_voucher_code};
use crate::domain::checkout::{self, CheckoutDetails, CheckoutInput, CheckoutRules};
use crate::domain::field_errors::FieldErrors;
use crate::domain::order::PaymentPlan;
use crate::domain::payment::{IdempotencyKey, PaymentMethodOption};
use crate::domain::pricing::{Totals, totals};
use crate::error::{AppError, AppResult};
use crate::payment::{FlowStatus, PaymentRequest};
use crate::store::orders::{OrderRef, PlaceOrder, PlaceOutcome};

/// How often a unit of work that lost a race is tried again.
const ATTEMPTS: usize = 5;

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
    Saved { confirmed: bool },
    Rejected(Box<CheckoutView>),
}

pub enum PaymentStep {
    PlaceOrder,
    Failed(String),
    NotConfirmed,
}

pub enum Placed {
    Order(OrderRef),
    PaymentFailed(String),
    Invalid(Vec<CartProblem>),
    NotConfirmed,
    NoCart,
}

fn new_key() -> IdempotencyKey {
    IdempotencyKey::from_string(uuid::Uuid::new_v4().to_string())
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The shopper's open cart, if the session names one.
pub async fn open_cart(shop: &Shop, cart_id: Option<&str>) -> AppResult<Option<Cart>> {
    let Some(id) = cart_id else { return Ok(None) };
    Ok(shop.store.cart(id).await?.filter(Cart::is_open))
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
    CheckoutRules {
        use_delivery_forms: flags.use_delivery_forms,
        use_personal_data_form: flags.use_personal_data_form,
        privacy_policy_required: flags.privacy_policy_required,
        minimum_age: flags.minimum_age,
        today: today(),
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
/// shopper's confirmation.
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
        new_key(),
    );
    let details = match parsed {
        Ok((details, _)) => details,
        Err(errors) => {
            return Ok(Submitted::Rejected(Box::new(
                view(shop, cart, input, errors).await?,
            )));
        }
    };
    let confirmed = shop.settings.checkout.skip_review_action;
    match shop
        .store
        .save_checkout(&cart.id, cart.version, &details, confirmed)
        .await
    {
        Ok(()) => Ok(Submitted::Saved { confirmed }),
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

/// The shopper's "place order": a new payment attempt with a fresh key.
/// `false` when there is nothing to confirm (the form was not sent).
pub async fn confirm(shop: &Shop, cart: &Cart) -> AppResult<bool> {
    let Some(mut details) = cart.checkout.clone() else {
        return Ok(false);
    };
    if let Some(payment) = details.payment.as_mut() {
        payment.renew_key(new_key());
    }
    match shop
        .store
        .save_checkout(&cart.id, cart.version, &details, true)
        .await
    {
        Ok(()) => Ok(true),
        // A double click confirmed it already, or the cart changed; either
        // way the next step reads the cart as it is now.
        Err(e) if e.is_retryable() => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Ends a failed attempt: confirmation withdrawn, a fresh key for the next.
async fn abandon_attempt(shop: &Shop, cart: &Cart) -> AppResult<()> {
    let Some(mut details) = cart.checkout.clone() else {
        return Ok(());
    };
    if let Some(payment) = details.payment.as_mut() {
        payment.renew_key(new_key());
    }
    match shop
        .store
        .save_checkout(&cart.id, cart.version, &details, false)
        .await
    {
        // A lost race means the cart changed, which withdrew it already.
        Err(e) if !e.is_retryable() => Err(e.into()),
        _ => Ok(()),
    }
}

/// Asks the gateway how the current attempt stands.
async fn settle(
    shop: &Shop,
    cart: &Cart,
    start: bool,
) -> AppResult<Result<Option<PaymentPlan>, String>> {
    let Some(details) = &cart.checkout else {
        return Ok(Err("Please fill in the checkout form.".into()));
    };
    let methods = shop.store.shipping_methods().await?;
    let order_totals = cart_totals(shop, cart, &methods, details);
    if !order_totals.needs_payment() {
        return Ok(Ok(None));
    }
    let Some(selection) = &details.payment else {
        return Ok(Err("Please choose a payment method.".into()));
    };
    let Some(gateway) = shop.gateways.get(&selection.gateway) else {
        return Ok(Err(
            "This payment method is no longer offered. Please choose another one.".into(),
        ));
    };
    let request = PaymentRequest {
        method: selection.method.clone(),
        amount: order_totals.total,
        idempotency_key: selection.idempotency_key.clone(),
        reference: cart.id.clone(),
    };
    let status = if start {
        gateway.start_flow(&request).await
    } else {
        gateway.flow_status(&request).await
    };
    match status.map_err(|e| AppError::Internal(e.into()))? {
        FlowStatus::Approved {
            payment_status,
            order_status,
        } => Ok(Ok(Some(PaymentPlan {
            gateway: selection.gateway.clone(),
            method: selection.method.clone(),
            idempotency_key: selection.idempotency_key.clone(),
            payment_status,
            order_status,
        }))),
        FlowStatus::Failed { reason } => Ok(Err(reason)),
    }
}

pub async fn payment(shop: &Shop, cart: &Cart) -> AppResult<PaymentStep> {
    if !cart.confirmed {
        return Ok(PaymentStep::NotConfirmed);
    }
    match settle(shop, cart, true).await? {
        Ok(_) => Ok(PaymentStep::PlaceOrder),
        Err(reason) => {
            abandon_attempt(shop, cart).await?;
            Ok(PaymentStep::Failed(reason))
        }
    }
}

/// Places the order of a confirmed cart exactly once: a repeat or a
/// concurrent request for the same cart gets the same order back.
pub async fn place_order(shop: &Shop, cart_id: &str) -> AppResult<Placed> {
    for _ in 0..ATTEMPTS {
        let Some(cart) = shop.store.cart(cart_id).await? else {
            return Ok(Placed::NoCart);
        };
        if !cart.is_open() {
            return match shop.store.order_of_cart(cart_id).await? {
                Some(order) => Ok(Placed::Order(order)),
                None => Ok(Placed::NoCart),
            };
        }
        if !cart.confirmed {
            return Ok(Placed::NotConfirmed);
        }
        let plan = match settle(shop, &cart, false).await? {
            Ok(plan) => plan,
            Err(reason) => {
                abandon_attempt(shop, &cart).await?;
                return Ok(Placed::PaymentFailed(reason));
            }
        };
        let request = PlaceOrder {
            cart_id,
            cart_version: cart.version,
            payment: plan,
            token: random_token(),
            currency: shop.currency,
        };
        match shop.store.place_order(&request).await {
            Ok(PlaceOutcome::Placed(order) | PlaceOutcome::AlreadyPlaced(order)) => {
                return Ok(Placed::Order(order));
            }
            Ok(PlaceOutcome::Invalid(problems)) => return Ok(Placed::Invalid(problems)),
            Ok(PlaceOutcome::NotConfirmed) => return Ok(Placed::NotConfirmed),
            Ok(PlaceOutcome::NoCart) => return Ok(Placed::NoCart),
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Unavailable(
        "placing the order kept losing races; giving up for now".into(),
    ))
}
