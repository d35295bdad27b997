//! HTTP handlers by area. Handlers parse, call one use case, and render or
//! redirect.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod checkout;
pub mod compress;
pub mod csrf;
pub mod error;
pub mod health;
pub mod layout;
pub mod nul;
pub mod password;
pub mod request_id;
pub mod session;
pub mod session_store;
pub mod shop;
pub mod webhooks;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(shop::routes)
        .configure(account::routes)
        .configure(password::routes)
        .configure(checkout::routes)
        .configure(health::routes)
        .configure(webhooks::routes)
        .configure(admin::routes)
        .configure(api::routes);
}
