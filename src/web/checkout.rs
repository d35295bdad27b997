//! The checkout routes. The flags of `[checkout]` decide which steps show.

use super::csrf::{CsrfForm, NoFields};
use super::layout::{Layout, login_then, render, render_with, see_other};
use super::session::{FlashKind, ShopSession};
use crate::application::checkout::{self, Attempt, CheckoutView, Restore, ReviewView, Submitted};
use crate::application::placeorder::{ProcessStatus, StartRefused};
use crate::application::registration::{self, RegistrationProblem};
use crate::application::{Shop, cart, orders};
use crate::config::CheckoutSettings;
use crate::domain::address::COUNTRIES;
use crate::domain::cart::{Cart, CartStatus};
use crate::domain::checkout::CheckoutInput;
use crate::domain::order::{Order, OrderRef};
use crate::domain::payment::{CustomerAction, PaymentInstructions};
use crate::domain::placeorder::FailureReason;
use crate::web::error::{PageError, PageResult};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "checkout/start.html")]
struct StartPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "checkout/form.html")]
struct FormPage<'a> {
    layout: Layout,
    view: CheckoutView,
    flags: &'a CheckoutSettings,
    countries: &'static [(&'static str, &'static str)],
}

impl FormPage<'_> {
    fn is_selected(&self, value: &str, option: &str) -> bool {
        value == option
    }
}

#[derive(Template)]
#[template(path = "checkout/review.html")]
struct ReviewPage {
    layout: Layout,
    view: ReviewView,
}

#[derive(Template)]
#[template(path = "checkout/success.html")]
struct SuccessPage {
    layout: Layout,
    order: Order,
    instructions: Option<PaymentInstructions>,
}

#[derive(Template)]
#[template(path = "checkout/payment.html")]
struct PaymentPage {
    layout: Layout,
    /// `None`: waiting for the provider.
    action: Option<CustomerAction>,
    /// The attempt is being undone; nothing to pay.
    cancelling: bool,
}

#[derive(Template)]
#[template(path = "checkout/empty.html")]
struct EmptyCartPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "checkout/expired.html")]
struct ExpiredPage {
    layout: Layout,
}

pub(super) fn success_url(order: &OrderRef) -> String {
    orders::confirmation_path(&order.number, &order.token)
}

/// Where the shopper goes when a payment fails.
fn after_payment_error(flags: &CheckoutSettings) -> &'static str {
    if flags.show_review_step_after_payment_error && !flags.skip_review_action {
        "/checkout/review"
    } else {
        "/checkout"
    }
}

/// The open cart with items, or the response for a shopper without one.
async fn cart_or_leave(
    shop: &Shop,
    session: &ShopSession,
) -> PageResult<Result<Cart, HttpResponse>> {
    let cart = checkout::current_cart(shop, &session.cart_claim()).await?;
    usable_or_leave(shop, session, cart).await
}

/// `cart_or_leave` for a cart already read (not an ordered one).
async fn usable_or_leave(
    shop: &Shop,
    session: &ShopSession,
    cart: Option<Cart>,
) -> PageResult<Result<Cart, HttpResponse>> {
    match cart {
        Some(cart) if cart.status == CartStatus::Frozen => Ok(Err(see_other("/checkout/payment"))),
        Some(cart) if !cart.lines.is_empty() => Ok(Ok(cart)),
        _ if shop.settings.checkout.show_empty_cart_page_if_no_items => {
            Ok(Err(render(&EmptyCartPage {
                layout: Layout::load(shop, session).await?,
            })?))
        }
        _ => Ok(Err(see_other("/cart"))),
    }
}

/// With `redirect_to_cart_on_invalid_cart`, an invalid cart is shown on the
/// cart page (which lists the reasons) instead of the checkout.
fn invalid_cart_redirect(shop: &Shop, cart: &Cart) -> Option<HttpResponse> {
    (shop.settings.checkout.redirect_to_cart_on_invalid_cart
        && !checkout::cart_problems(cart).is_empty())
    .then(|| see_other("/cart"))
}

/// A shopper whose cart was just ordered (refresh, back button, second
/// click) is sent to that order's confirmation.
fn already_ordered(session: &ShopSession) -> Option<HttpResponse> {
    session.cart_id().is_none().then_some(())?;
    session.last_order().map(|o| see_other(&success_url(&o)))
}

fn form_page(
    shop: &Shop,
    session: &ShopSession,
    cart_count: i64,
    view: CheckoutView,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    render_with(
        status,
        &FormPage {
            layout: Layout::with_count(shop, session, cart_count)?,
            view,
            flags: &shop.settings.checkout,
            countries: COUNTRIES,
        },
    )
}

#[get("/checkout/start")]
async fn start(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    if let Err(leave) = cart_or_leave(&shop, &session).await? {
        return Ok(leave);
    }
    if session.user().is_some() || shop.settings.checkout.skip_start_action {
        return Ok(see_other("/checkout"));
    }
    render(&StartPage {
        layout: Layout::load(&shop, &session).await?,
    })
}

#[get("/checkout")]
async fn show_form(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if let Some(redirect) = invalid_cart_redirect(&shop, &cart) {
        return Ok(redirect);
    }
    let count = cart.item_count();
    let view = checkout::form(&shop, cart, session.user_id().as_deref()).await?;
    form_page(&shop, &session, count, view, StatusCode::OK)
}

#[post("/checkout")]
async fn submit_form(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<CheckoutInput>,
) -> PageResult<HttpResponse> {
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if let Some(redirect) = invalid_cart_redirect(&shop, &cart) {
        return Ok(redirect);
    }
    let count = cart.item_count();
    match checkout::submit(&shop, cart, form.0).await? {
        Submitted::Saved {
            placing: Some(Ok(status)),
        } => after_start(&shop, &session, status),
        Submitted::Saved {
            placing: Some(Err(refused)),
        } => start_refused(&session, refused),
        Submitted::Saved { placing: None } => Ok(see_other("/checkout/review")),
        Submitted::Rejected(view) => form_page(
            &shop,
            &session,
            count,
            *view,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

#[get("/checkout/review")]
async fn show_review(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    if shop.settings.checkout.skip_review_action {
        return Ok(see_other("/checkout"));
    }
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if !checkout::cart_problems(&cart).is_empty() {
        return Ok(invalid_cart_redirect(&shop, &cart).unwrap_or_else(|| see_other("/checkout")));
    }
    let count = cart.item_count();
    match checkout::review(&shop, cart).await? {
        Some(view) => render(&ReviewPage {
            layout: Layout::with_count(&shop, &session, count)?,
            view,
        }),
        None => Ok(see_other("/checkout")),
    }
}

#[derive(Deserialize)]
struct PlaceForm {
    /// The cart version the review page showed.
    #[serde(default)]
    cart_version: Option<i64>,
}

/// The review's "Place order": starts the place-order process.
#[post("/checkout/review")]
async fn place(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<PlaceForm>,
) -> PageResult<HttpResponse> {
    if shop.settings.checkout.skip_review_action {
        return Ok(see_other("/checkout"));
    }
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    let cart = cart::shoppers_cart(&shop, &session.cart_claim()).await?;
    // Placed by an earlier click: the payment step leads to its order.
    if cart
        .as_ref()
        .is_some_and(|c| c.status == CartStatus::Ordered)
    {
        return Ok(see_other("/checkout/payment"));
    }
    let cart = match usable_or_leave(&shop, &session, cart).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if cart.checkout.is_none() {
        return Ok(see_other("/checkout"));
    }
    // Only the cart that was reviewed is ordered: the process freezes this
    // version or none.
    let Some(reviewed) = form.0.cart_version else {
        return review_again(&session);
    };
    match checkout::place(&shop, cart, reviewed).await? {
        Ok(status) => after_start(&shop, &session, status),
        Err(refused) => start_refused(&session, refused),
    }
}

fn review_again(session: &ShopSession) -> PageResult<HttpResponse> {
    session.flash(
        FlashKind::Error,
        "Your cart changed since you reviewed it. Please check it and place the order again.",
    )?;
    Ok(see_other("/checkout/review"))
}

/// "Place order" that started no attempt: the review again, or the form
/// for what the shopper must change there.
fn start_refused(session: &ShopSession, refused: StartRefused) -> PageResult<HttpResponse> {
    match refused {
        StartRefused::CartChanged => review_again(session),
        StartRefused::Registration(RegistrationProblem::Refused(reason)) => {
            session.flash(FlashKind::Error, reason)?;
            Ok(see_other("/checkout"))
        }
        StartRefused::Registration(RegistrationProblem::Unavailable) => {
            session.flash(FlashKind::Error, registration::UNAVAILABLE_MESSAGE)?;
            Ok(see_other("/checkout"))
        }
        StartRefused::PreviousAttemptBusy => {
            session.flash(
                FlashKind::Error,
                "Your previous payment is still being cancelled. Please try again in a moment.",
            )?;
            Ok(see_other("/checkout/review"))
        }
    }
}

/// After the shopper's "place order": the payment step shows the rest,
/// unless the attempt is over already: failed, or placed (a payment that
/// needs nothing from the shopper, such as cash on delivery), which goes
/// to its confirmation as `/checkout/placeorder` would.
fn after_start(
    shop: &Shop,
    session: &ShopSession,
    status: ProcessStatus,
) -> PageResult<HttpResponse> {
    match status {
        ProcessStatus::Failed(reason) => failed(shop, session, &reason),
        ProcessStatus::Succeeded(order) => placed(session, order),
        _ => Ok(see_other("/checkout/payment")),
    }
}

/// The session knows the order (and no longer the cart); the shopper sees
/// its confirmation.
fn placed(session: &ShopSession, order: impl Into<OrderRef>) -> PageResult<HttpResponse> {
    let order = order.into();
    session.order_placed(&order)?;
    Ok(see_other(&success_url(&order)))
}

/// Back to the form (or the review, for a payment error with
/// `show_review_step_after_payment_error`), the cart intact, with the reason.
fn failed(shop: &Shop, session: &ShopSession, reason: &FailureReason) -> PageResult<HttpResponse> {
    match reason.message() {
        Some(message) => session.flash(FlashKind::Error, message)?,
        None => session.flash(
            FlashKind::Info,
            "The payment was cancelled. Your cart is as it was.",
        )?,
    }
    Ok(see_other(match reason {
        FailureReason::PaymentError(_) => after_payment_error(&shop.settings.checkout),
        _ => "/checkout",
    }))
}

/// The payment step: moves the process on and shows what the shopper must
/// do: go to the provider, wait, or nothing (it is placed or it failed).
#[get("/checkout/payment")]
async fn payment(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    let status = match checkout::attempt(&shop, &session.cart_claim()).await? {
        Attempt::NoCart => return Ok(see_other("/cart")),
        Attempt::None => return Ok(see_other("/checkout")),
        Attempt::Status(status) => status,
    };
    let page = |action: Option<CustomerAction>| async {
        Ok::<_, PageError>(PaymentPage {
            layout: Layout::load(&shop, &session).await?,
            action,
            cancelling: false,
        })
    };
    match status {
        ProcessStatus::Action(CustomerAction::Redirect { url }) => Ok(see_other(&url)),
        ProcessStatus::Action(action @ CustomerAction::ShowIframe { .. }) => {
            let mut response = render(&page(Some(action)).await?)?;
            // The provider's page is framed: allow frames from anywhere.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static(
                    "default-src 'self'; frame-src https: http:; frame-ancestors 'none'",
                ),
            );
            Ok(response)
        }
        ProcessStatus::Action(action) => render(&page(Some(action)).await?),
        ProcessStatus::Waiting | ProcessStatus::Running => render(&page(None).await?),
        ProcessStatus::RollingBack => render(&PaymentPage {
            layout: Layout::load(&shop, &session).await?,
            action: None,
            cancelling: true,
        }),
        ProcessStatus::Succeeded(_) => Ok(see_other("/checkout/placeorder")),
        ProcessStatus::Failed(reason) => failed(&shop, &session, &reason),
    }
}

/// The waiting page's cancel button: rolls the process back, the cart is
/// the shopper's again.
#[post("/checkout/payment/cancel")]
async fn cancel_payment(
    shop: web::Data<Shop>,
    session: ShopSession,
    _form: CsrfForm<NoFields>,
) -> PageResult<HttpResponse> {
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    match checkout::cancel_attempt(&shop, &session.cart_claim()).await? {
        Attempt::NoCart => Ok(see_other("/cart")),
        Attempt::None => Ok(see_other("/checkout")),
        Attempt::Status(status) => after_start(&shop, &session, status),
    }
}

/// Reads the final state of the cart's process.
#[get("/checkout/placeorder")]
async fn place_order(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    match checkout::attempt(&shop, &session.cart_claim()).await? {
        Attempt::NoCart => Ok(already_ordered(&session).unwrap_or_else(|| see_other("/cart"))),
        Attempt::Status(ProcessStatus::Succeeded(order)) => placed(&session, order),
        Attempt::Status(ProcessStatus::Failed(_)) | Attempt::None => Ok(see_other("/checkout")),
        Attempt::Status(_) => Ok(see_other("/checkout/payment")),
    }
}

#[derive(Deserialize)]
struct SuccessQuery {
    #[serde(default)]
    order: String,
    #[serde(default)]
    token: String,
}

#[get("/checkout/success")]
async fn success(
    shop: web::Data<Shop>,
    session: ShopSession,
    query: web::Query<SuccessQuery>,
) -> PageResult<HttpResponse> {
    let confirmation = orders::confirmation(&shop, &query.order, &query.token).await?;
    render(&SuccessPage {
        layout: Layout::load(&shop, &session).await?,
        order: confirmation.order,
        instructions: confirmation.instructions,
    })
}

#[derive(Deserialize)]
struct RestoreForm {
    order: String,
    token: String,
}

/// Gives a shopper back the cart of an order that was cancelled because
/// its money never came (an expired convenience-store payment). Only the
/// session that filled the cart or the ordering account gets it; anyone
/// else with the link is asked to log in.
#[post("/checkout/restore")]
async fn restore_cart(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<RestoreForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    match checkout::restore(
        &shop,
        session.cart_owner().as_ref(),
        &form.order,
        &form.token,
    )
    .await?
    {
        Restore::Restored { cart_id } => {
            session.set_cart_id(&cart_id)?;
            session.flash(FlashKind::Info, "Your cart is back, as it was.")?;
            Ok(see_other("/cart"))
        }
        Restore::NotYours => {
            session.flash(FlashKind::Error, "Please log in to get your cart back.")?;
            let link = success_url(&OrderRef {
                number: form.order,
                token: form.token,
            });
            Ok(see_other(&login_then(&link)))
        }
        Restore::Unavailable => {
            session.flash(FlashKind::Error, "This cart cannot be restored.")?;
            Ok(see_other("/cart"))
        }
    }
}

#[get("/checkout/expired")]
async fn expired(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    render(&ExpiredPage {
        layout: Layout::load(&shop, &session).await?,
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(start)
        .service(show_form)
        .service(submit_form)
        .service(show_review)
        .service(place)
        .service(payment)
        .service(cancel_payment)
        .service(place_order)
        .service(success)
        .service(restore_cart)
        .service(expired);
}
