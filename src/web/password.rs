//! "Forgot your password?": asking for a link, and the form the link opens.
//! The token rides in the link's query string; the access log writes paths
//! only and `Referrer-Policy: same-origin` keeps it from other sites.

use super::account::start_session;
use super::admin::session::client_ip;
use super::csrf::CsrfForm;
use super::layout::{Layout, render, render_with, see_other};
use super::session::{FlashKind, ShopSession};
use crate::application::Shop;
use crate::application::password_reset::{self, LinkRefusal, RESET_LINK_MINUTES, ResetRefused};
use crate::domain::account::MIN_PASSWORD_LEN;
use crate::domain::field_errors::FieldErrors;
use crate::web::error::PageResult;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    layout: Layout,
    email: String,
    errors: FieldErrors,
    /// The request was taken: the page says so, the same for every address.
    sent: bool,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "account/reset.html")]
struct ResetPage {
    layout: Layout,
    token: String,
    errors: FieldErrors,
    min_length: usize,
}

#[derive(Template)]
#[template(path = "account/reset_refused.html")]
struct RefusedPage {
    layout: Layout,
    refusal: LinkRefusal,
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
}

async fn forgot_page(
    shop: &Shop,
    session: &ShopSession,
    status: StatusCode,
    email: String,
    errors: FieldErrors,
    sent: bool,
) -> PageResult<HttpResponse> {
    render_with(
        status,
        &ForgotPage {
            layout: Layout::load(shop, session).await?,
            email,
            errors,
            sent,
            minutes: RESET_LINK_MINUTES,
        },
    )
}

#[get("/account/password/forgot")]
async fn forgot_form(shop: web::Data<Shop>, session: ShopSession) -> PageResult<HttpResponse> {
    let no_errors = FieldErrors::default();
    forgot_page(
        &shop,
        &session,
        StatusCode::OK,
        String::new(),
        no_errors,
        false,
    )
    .await
}

/// Answers the same page whether or not the address has an account, and
/// past the limits too.
#[post("/account/password/forgot")]
async fn forgot(
    shop: web::Data<Shop>,
    session: ShopSession,
    req: HttpRequest,
    form: CsrfForm<ForgotForm>,
) -> PageResult<HttpResponse> {
    let email = form.0.email;
    let ip = client_ip(&req, &shop);
    match password_reset::request_reset(&shop, &email, &ip).await? {
        Ok(()) => {
            let none = FieldErrors::default();
            forgot_page(&shop, &session, StatusCode::OK, String::new(), none, true).await
        }
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            forgot_page(&shop, &session, status, email, errors, false).await
        }
    }
}

async fn refused_page(
    shop: &Shop,
    session: &ShopSession,
    refusal: LinkRefusal,
) -> PageResult<HttpResponse> {
    let status = match refusal {
        LinkRefusal::Unknown => StatusCode::NOT_FOUND,
        LinkRefusal::Used | LinkRefusal::Expired => StatusCode::GONE,
    };
    render_with(
        status,
        &RefusedPage {
            layout: Layout::load(shop, session).await?,
            refusal,
        },
    )
}

#[get("/account/password/reset")]
async fn reset_form(
    shop: web::Data<Shop>,
    session: ShopSession,
    query: web::Query<TokenQuery>,
) -> PageResult<HttpResponse> {
    let token = query.into_inner().token;
    match password_reset::check_token(&shop, &token).await? {
        Ok(()) => render(&ResetPage {
            layout: Layout::load(&shop, &session).await?,
            token,
            errors: FieldErrors::default(),
            min_length: MIN_PASSWORD_LEN,
        }),
        Err(refusal) => refused_page(&shop, &session, refusal).await,
    }
}

/// Sets the password and logs the account in as a login does (a new
/// session id and CSRF token).
#[post("/account/password/reset")]
async fn reset(
    shop: web::Data<Shop>,
    session: ShopSession,
    form: CsrfForm<ResetForm>,
) -> PageResult<HttpResponse> {
    let form = form.0;
    let outcome = password_reset::reset_password(
        &shop,
        &form.token,
        &form.password,
        &form.password_confirmation,
    )
    .await?;
    match outcome {
        Ok(user) => {
            start_session(&shop, &session, &user).await?;
            session.flash(FlashKind::Info, "Your new password is set.")?;
            Ok(see_other("/"))
        }
        Err(ResetRefused::Fields(errors)) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                layout: Layout::load(&shop, &session).await?,
                token: form.token,
                errors,
                min_length: MIN_PASSWORD_LEN,
            },
        ),
        Err(ResetRefused::Link(refusal)) => refused_page(&shop, &session, refusal).await,
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(forgot_form)
        .service(forgot)
        .service(reset_form)
        .service(reset);
}
