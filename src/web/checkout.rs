//! The checkout routes. The flags of `[checkout]` decide which steps show.

use super::csrf::{CsrfForm, NoFields};
use super::layout::{Layout, render, render_with, see_other};
use super::session::{FlashKind, ShopSession};
use crate::application::checkout::{
    self, CheckoutView, PaymentStep, Placed, ReviewView, Submitted,
};
use crate::application::{Shop, orders};
use crate::config::CheckoutSettings;
use crate::domain::address::COUNTRIES;
use crate::domain::cart::Cart;
use crate::domain::checkout::CheckoutInput;
use crate::domain::order::Order;
use crate::error::{AppError, AppResult};
use crate::payment::offline::CASH_IN_ADVANCE;
use crate::store::orders::OrderRef;
use actix_web::http::StatusCode;
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
    pay_in_advance: bool,
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

fn success_url(order: &OrderRef) -> String {
    format!(
        "/checkout/success?order={}&token={}",
        order.number, order.token
    )
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
) -> AppResult<Result<Cart, HttpResponse>> {
    let cart = checkout::open_cart(shop, session.cart_id().as_deref()).await?;
    match cart {
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

async fn form_page(
    shop: &Shop,
    session: &ShopSession,
    view: CheckoutView,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    render_with(
        status,
        &FormPage {
            layout: Layout::load(shop, session).await?,
            view,
            flags: &shop.settings.checkout,
            countries: COUNTRIES,
        },
    )
}

#[get("/checkout/start")]
async fn start(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
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
async fn show_form(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if let Some(redirect) = invalid_cart_redirect(&shop, &cart) {
        return Ok(redirect);
    }
    let view = checkout::form(&shop, cart, session.user_id().as_deref()).await?;
    form_page(&shop, &session, view, StatusCode::OK).await
}

#[post("/checkout")]
async fn submit_form(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<CheckoutInput>,
) -> AppResult<HttpResponse> {
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
    match checkout::submit(&shop, cart, form.0).await? {
        Submitted::Saved { confirmed: true } => Ok(see_other("/checkout/payment")),
        Submitted::Saved { confirmed: false } => Ok(see_other("/checkout/review")),
        Submitted::Rejected(view) => {
            form_page(&shop, &session, *view, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[get("/checkout/review")]
async fn show_review(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
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
    match checkout::review(&shop, cart).await? {
        Some(view) => render(&ReviewPage {
            layout: Layout::load(&shop, &session).await?,
            view,
        }),
        None => Ok(see_other("/checkout")),
    }
}

#[post("/checkout/review")]
async fn confirm(
    shop: web::Data<Shop>,
    session: ShopSession,
    _form: CsrfForm<NoFields>,
) -> AppResult<HttpResponse> {
    if shop.settings.checkout.skip_review_action {
        return Ok(see_other("/checkout"));
    }
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    if checkout::confirm(&shop, &cart).await? {
        Ok(see_other("/checkout/payment"))
    } else {
        Ok(see_other("/checkout"))
    }
}

#[get("/checkout/payment")]
async fn payment(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
    if let Some(done) = already_ordered(&session) {
        return Ok(done);
    }
    let cart = match cart_or_leave(&shop, &session).await? {
        Ok(cart) => cart,
        Err(leave) => return Ok(leave),
    };
    match checkout::payment(&shop, &cart).await? {
        PaymentStep::PlaceOrder => Ok(see_other("/checkout/placeorder")),
        PaymentStep::NotConfirmed => Ok(see_other("/checkout")),
        PaymentStep::Failed(reason) => {
            session.flash(FlashKind::Error, reason)?;
            Ok(see_other(after_payment_error(&shop.settings.checkout)))
        }
    }
}

#[get("/checkout/placeorder")]
async fn place_order(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
    let Some(cart_id) = session.cart_id() else {
        return Ok(already_ordered(&session).unwrap_or_else(|| see_other("/cart")));
    };
    match checkout::place_order(&shop, &cart_id).await? {
        Placed::Order(order) => {
            session.order_placed(&order)?;
            Ok(see_other(&success_url(&order)))
        }
        Placed::PaymentFailed(reason) => {
            session.flash(FlashKind::Error, reason)?;
            Ok(see_other(after_payment_error(&shop.settings.checkout)))
        }
        Placed::Invalid(_) if shop.settings.checkout.redirect_to_cart_on_invalid_cart => {
            Ok(see_other("/cart"))
        }
        Placed::Invalid(_) | Placed::NotConfirmed => Ok(see_other("/checkout")),
        Placed::NoCart => Ok(see_other("/checkout/expired")),
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
) -> AppResult<HttpResponse> {
    let order = orders::for_confirmation(&shop, &query.order, &query.token)
        .await?
        .ok_or(AppError::NotFound)?;
    let pay_in_advance = order
        .payment
        .as_ref()
        .is_some_and(|p| p.method == CASH_IN_ADVANCE);
    render(&SuccessPage {
        layout: Layout::load(&shop, &session).await?,
        order,
        pay_in_advance,
    })
}

#[get("/checkout/expired")]
async fn expired(shop: web::Data<Shop>, session: ShopSession) -> AppResult<HttpResponse> {
    render(&ExpiredPage {
        layout: Layout::load(&shop, &session).await?,
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(start)
        .service(show_form)
        .service(submit_form)
        .service(show_review)
        .service(confirm)
        .service(payment)
        .service(place_order)
        .service(success)
        .service(expired);
}
