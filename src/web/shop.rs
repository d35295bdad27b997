//! Catalogue, product pages and the cart.

use super::csrf::CsrfForm;
use super::layout::{Layout, render, see_other};
use super::session::{FlashKind, ShopSession};
use crate::application::{Shop, cart as cart_actions, catalogue, checkout};
use crate::domain::cart::{CartLine, CartProblem, CartRefusal, subtotal};
use crate::domain::catalogue::Product;
use crate::domain::money::Money;
use crate::web::error::{PageError, PageResult};
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    layout: Layout,
    products: Vec<Product>,
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    product: Product,
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<CartLine>,
    problems: Vec<CartProblem>,
    subtotal: Money,
}

#[get("/")]
async fn catalogue_page(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    let products = catalogue::products(&shop).await?;
    render(&CataloguePage {
        layout: Layout::load(&shop, &session).await?,
        products,
    })
}

#[get("/products/{id}")]
async fn product_page(
    shop: web::Data<Shop>,
    session: ShopSession,
    id: web::Path<String>,
) -> PageResult<HttpResponse> {
    let product = catalogue::product(&shop, &id)
        .await?
        .ok_or(PageError::NotFound)?;
    render(&ProductPage {
        layout: Layout::load(&shop, &session).await?,
        product,
    })
}

#[get("/cart")]
async fn show_cart(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    let cart = checkout::current_cart(&shop, &session.cart_claim()).await?;
    // The header counts only an open cart; one being paid shows its lines.
    let count = cart
        .as_ref()
        .filter(|c| c.is_open())
        .map_or(0, |c| c.item_count());
    let (lines, problems) = match cart {
        Some(cart) if !cart.lines.is_empty() => {
            let problems = checkout::cart_problems(&cart);
            (cart.lines, problems)
        }
        _ => (Vec::new(), Vec::new()),
    };
    render(&CartPage {
        subtotal: subtotal(&lines, shop.currency),
        layout: Layout::with_count(&shop, &session, count)?,
        lines,
        problems,
    })
}

#[derive(Deserialize)]
struct LineForm {
    product_id: String,
    #[serde(default)]
    quantity: String,
}

fn report(session: &ShopSession, outcome: Result<(), CartRefusal>, done: &str) -> PageResult<()> {
    match outcome {
        Ok(()) => session.flash(FlashKind::Info, done),
        Err(refusal) => session.flash(FlashKind::Error, refusal.to_string()),
    }
}

#[post("/cart/add")]
async fn add_to_cart(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<LineForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    let owner = session.cart_owner_or_new_guest()?;
    let action = cart_actions::add(
        &shop,
        session.cart_id().as_deref(),
        &owner,
        &form.product_id,
        &form.quantity,
    )
    .await?;
    session.set_cart_id(&action.cart_id)?;
    report(&session, action.outcome, "The item was added to your cart.")?;
    Ok(see_other("/cart"))
}

#[post("/cart/update")]
async fn update_cart(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<LineForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    if session.cart_id().is_none() {
        return Ok(see_other("/cart"));
    }
    let outcome = cart_actions::set_quantity(
        &shop,
        &session.cart_claim(),
        &form.product_id,
        &form.quantity,
    )
    .await?;
    report(&session, outcome, "Your cart was updated.")?;
    Ok(see_other("/cart"))
}

#[post("/cart/remove")]
async fn remove_from_cart(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<LineForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    if session.cart_id().is_none() {
        return Ok(see_other("/cart"));
    }
    let outcome = cart_actions::remove(&shop, &session.cart_claim(), &form.product_id).await?;
    report(&session, outcome, "The item was removed from your cart.")?;
    Ok(see_other("/cart"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(catalogue_page)
        .service(product_page)
        .service(show_cart)
        .service(add_to_cart)
        .service(update_cart)
        .service(remove_from_cart);
}
