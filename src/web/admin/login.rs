//! `/admin/login` and `POST /admin/logout`. A login makes a new session
//! id every time; wrong email and wrong password read the same, and so
//! does a limited login for a known or an unknown email.

use super::AdminLayout;
use super::session::{
    LOGIN_COOKIE, LoginForm, STAFF_COOKIE, StaffForm, StaffSession, admin_cookie, admin_next,
    client_ip, removal, with_cookies,
};
use crate::application::Shop;
use crate::application::staff::{self, Login, LoginAttempt};
use crate::ids::random_token;
use crate::web::csrf::NoFields;
use crate::web::error::PageResult;
use crate::web::layout::{render_with, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: AdminLayout,
    csrf_token: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

const REFUSED: &str = "The email address or the password is not correct.";

#[get("/admin/login")]
async fn login_form(
    shop: web::Data<Shop>,
    req: HttpRequest,
    staff: Option<StaffSession>,
    query: web::Query<NextQuery>,
) -> PageResult<HttpResponse> {
    let next = admin_next(&query.next);
    if staff.is_some() {
        return Ok(see_other(next));
    }
    let csrf_token = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|token| !token.is_empty())
        .unwrap_or_else(random_token);
    let page = render_with(
        StatusCode::OK,
        &LoginPage {
            layout: AdminLayout::signed_out(&shop),
            csrf_token: csrf_token.clone(),
            email: String::new(),
            next: next.to_owned(),
            error: None,
        },
    )?;
    with_cookies(page, [admin_cookie(&shop, LOGIN_COOKIE, csrf_token)])
}

#[post("/admin/login")]
async fn login(
    shop: web::Data<Shop>,
    req: HttpRequest,
    sent: LoginForm<Credentials>,
) -> PageResult<HttpResponse> {
    let Credentials {
        email,
        password,
        next,
    } = sent.form;
    let next = admin_next(&next).to_owned();
    let ip = client_ip(&req, &shop);
    let replaces = req.cookie(STAFF_COOKIE).map(|c| c.value().to_owned());
    let attempt = LoginAttempt {
        email: &email,
        password: &password,
        ip: &ip,
        replaces: replaces.as_deref(),
    };
    let (status, error) = match staff::log_in(&shop, attempt).await? {
        Login::SignedIn { session_id, .. } => {
            return with_cookies(
                see_other(&next),
                [
                    admin_cookie(&shop, STAFF_COOKIE, session_id),
                    removal(&shop, LOGIN_COOKIE),
                ],
            );
        }
        Login::Refused => (StatusCode::UNPROCESSABLE_ENTITY, REFUSED.to_owned()),
        Login::Limited { minutes } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed logins. Please wait {minutes} minutes, then try again."),
        ),
    };
    render_with(
        status,
        &LoginPage {
            layout: AdminLayout::signed_out(&shop),
            csrf_token: sent.csrf_token,
            email,
            next,
            error: Some(error),
        },
    )
}

#[post("/admin/logout")]
async fn logout(shop: web::Data<Shop>, sent: StaffForm<NoFields>) -> PageResult<HttpResponse> {
    staff::log_out(&shop, sent.staff.session_id()).await?;
    with_cookies(see_other("/admin/login"), [removal(&shop, STAFF_COOKIE)])
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form).service(login).service(logout);
}
