//! What every page shows around its content, and the helpers that turn a
//! view into a response.

use super::session::{Flash, ShopSession};
use crate::application::{Shop, cart};
use crate::web::error::PageResult;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;

pub struct Layout {
    pub shop_name: String,
    pub cart_count: i64,
    pub user_email: Option<String>,
    pub csrf_token: String,
    pub flash: Vec<Flash>,
}

impl Layout {
    pub async fn load(shop: &Shop, session: &ShopSession) -> PageResult<Self> {
        let cart_count = cart::item_count(shop, &session.cart_claim()).await?;
        Self::with_count(shop, session, cart_count)
    }

    /// For a page whose use case loaded the open cart already: its count,
    /// without reading the cart a second time.
    pub fn with_count(shop: &Shop, session: &ShopSession, cart_count: i64) -> PageResult<Self> {
        Ok(Self {
            shop_name: shop.settings.shop.name.clone(),
            cart_count,
            user_email: session.user().map(|u| u.email),
            csrf_token: session.csrf_token()?,
            flash: session.take_flash(),
        })
    }
}

pub fn render<T: Template>(view: &T) -> PageResult<HttpResponse> {
    render_with(StatusCode::OK, view)
}

/// Room for a whole page at once: askama's own hint counts only a
/// template's literal text, and a page that outgrows its buffer is copied
/// each time the buffer doubles.
const PAGE_BYTES: usize = 16 * 1024;

pub fn render_with<T: Template>(status: StatusCode, view: &T) -> PageResult<HttpResponse> {
    let mut page = String::with_capacity(T::SIZE_HINT.max(PAGE_BYTES));
    view.render_into(&mut page)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page))
}

/// Post/Redirect/Get: 303 makes the browser follow with a GET.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Only paths on this site are followed after login.
pub fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and line breaks from URLs: "/\t/evil" is "//evil".
    let plain = next.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// The login page, going on to `next` (a path of this shop) afterwards.
pub fn login_then(next: &str) -> String {
    let query = serde_urlencoded::to_string([("next", safe_next(next))]).unwrap_or_default();
    format!("/account/login?{query}")
}
