//! Register, log in, log out.

use super::csrf::{CsrfForm, NoFields};
use super::layout::{Layout, render, render_with, safe_next, see_other};
use super::session::{FlashKind, ShopSession};
use crate::application::Shop;
use crate::application::accounts::{self, LoggedIn};
use crate::application::cart;
use crate::domain::field_errors::FieldErrors;
use crate::web::error::PageResult;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    email: String,
    next: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
    #[serde(default)]
    next: String,
}

#[get("/account/login")]
async fn login_form(
    shop: web::Data<Shop>,
    session: ShopSession,
    query: web::Query<NextQuery>,
) -> PageResult<HttpResponse> {
    render(&LoginPage {
        layout: Layout::load(&shop, &session).await?,
        email: String::new(),
        next: safe_next(&query.next).to_owned(),
        error: None,
    })
}

/// Logs the user in; the guest's cart goes to the account (see
/// `cart::after_login`).
pub(super) async fn start_session(
    shop: &Shop,
    session: &ShopSession,
    user: &LoggedIn,
) -> PageResult<()> {
    let before = session.cart_claim();
    session.log_in(user)?;
    if let Some(cart_id) = cart::after_login(shop, &before, &user.user_id).await? {
        session.set_cart_id(&cart_id)?;
    }
    Ok(())
}

#[post("/account/login")]
async fn login(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<LoginForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    match accounts::login(&shop, &form.email, &form.password).await? {
        Some(user) => {
            start_session(&shop, &session, &user).await?;
            session.flash(FlashKind::Info, format!("Welcome back, {}.", user.email))?;
            Ok(see_other(safe_next(&form.next)))
        }
        None => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LoginPage {
                layout: Layout::load(&shop, &session).await?,
                email: form.email,
                next: safe_next(&form.next).to_owned(),
                error: Some("The email address or the password is not correct.".into()),
            },
        ),
    }
}

#[get("/account/register")]
async fn register_form(
    shop: web::Data<Shop>,
    session: ShopSession,
    query: web::Query<NextQuery>,
) -> PageResult<HttpResponse> {
    render(&RegisterPage {
        layout: Layout::load(&shop, &session).await?,
        email: String::new(),
        next: safe_next(&query.next).to_owned(),
        errors: FieldErrors::default(),
    })
}

#[post("/account/register")]
async fn register(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<RegisterForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    match accounts::register(
        &shop,
        &form.email,
        &form.password,
        &form.password_confirmation,
    )
    .await?
    {
        Ok(user) => {
            start_session(&shop, &session, &user).await?;
            session.flash(
                FlashKind::Info,
                "Your account was created. You are logged in.",
            )?;
            Ok(see_other(safe_next(&form.next)))
        }
        Err(errors) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RegisterPage {
                layout: Layout::load(&shop, &session).await?,
                email: form.email,
                next: safe_next(&form.next).to_owned(),
                errors,
            },
        ),
    }
}

#[post("/account/logout")]
async fn logout(session: ShopSession, _form: CsrfForm<NoFields>) -> PageResult<HttpResponse> {
    session.log_out();
    Ok(see_other("/"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form)
        .service(login)
        .service(register_form)
        .service(register)
        .service(logout);
}
