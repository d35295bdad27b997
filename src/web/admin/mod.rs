//! The back office at `/admin`: staff log in with an account of their own
//! (not a shopper's) and a session of their own. Pages take a
//! `StaffSession` (or a `StaffForm` for a POST) and extend
//! `templates/admin/base.html` with an `AdminLayout`.

pub mod chart;
pub mod dashboard;
pub mod format;
pub mod login;
pub mod order;
pub mod order_actions;
pub mod orders;
pub mod session;

use crate::application::Shop;
use actix_web::web;
use session::StaffSession;

/// What every back-office page shows around its content.
pub struct AdminLayout {
    pub shop_name: String,
    /// The signed-in staff member; none on the login page.
    pub staff: Option<StaffHeader>,
    /// The nav entry of this page (`dashboard`, `orders`), marked current.
    pub current: &'static str,
}

pub struct StaffHeader {
    pub email: String,
    /// For the logout button.
    pub csrf_token: String,
}

impl AdminLayout {
    pub fn new(shop: &Shop, staff: &StaffSession, current: &'static str) -> Self {
        Self {
            shop_name: shop.settings.shop.name.clone(),
            staff: Some(StaffHeader {
                email: staff.email.clone(),
                csrf_token: staff.csrf_token.clone(),
            }),
            current,
        }
    }

    pub fn signed_out(shop: &Shop) -> Self {
        Self {
            shop_name: shop.settings.shop.name.clone(),
            staff: None,
            current: "",
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(login::routes)
        .configure(dashboard::routes)
        .configure(orders::routes)
        .configure(order::routes)
        .configure(order_actions::routes);
}
