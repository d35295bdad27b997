//! The staff session: apart from the shopper's, in its own cookie
//! (`kassa_staff`: HttpOnly, SameSite=Strict, only sent to /admin, Secure
//! when the shop is served over https), backed by a row in the database
//! (`application::staff`). A request without a live session is sent to
//! the login page, and comes back to where it was going afterwards.

use super::super::csrf::{body_error, checked_form};
use super::super::layout::safe_next;
use crate::application::Shop;
use crate::application::staff::{self, StaffMember};
use crate::domain::actor::Actor;
use crate::web::error::PageError;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::error::InternalError;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// Holds the staff session's id.
pub const STAFF_COOKIE: &str = "kassa_staff";
/// Holds the login form's CSRF token until there is a session.
pub const LOGIN_COOKIE: &str = "kassa_staff_login";

/// A signed-in staff member: take it as a handler argument and the
/// handler runs only for staff (strangers and expired sessions get 303 to
/// `/admin/login?next=<path>`).
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub staff_id: String,
    pub email: String,
    /// Every back-office form carries it (`StaffForm` checks it).
    pub csrf_token: String,
    session_id: String,
}

impl StaffSession {
    /// Who acts, for the record of what they do.
    pub fn actor(&self) -> Actor {
        Actor::Staff {
            id: self.staff_id.clone(),
            email: self.email.clone(),
        }
    }

    pub(super) fn session_id(&self) -> &str {
        &self.session_id
    }

    fn new(member: StaffMember, session_id: String) -> Self {
        Self {
            staff_id: member.staff_id,
            email: member.email,
            csrf_token: member.csrf_token,
            session_id,
        }
    }
}

/// `next` if it is a back-office path, else the dashboard.
pub fn admin_next(next: &str) -> &str {
    let local = safe_next(next) == next;
    // Browsers resolve dot segments, also percent-encoded ones.
    let dots = next.contains("..") || next.to_ascii_lowercase().contains("%2e");
    let admin = next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?");
    if local && admin && !dots {
        next
    } else {
        "/admin"
    }
}

/// The login page, going on to `next` afterwards.
pub fn login_url(next: &str) -> String {
    let query = serde_urlencoded::to_string([("next", admin_next(next))]).unwrap_or_default();
    format!("/admin/login?{query}")
}

/// A cookie of the back office with `value`.
pub fn admin_cookie(shop: &Shop, name: &'static str, value: String) -> Cookie<'static> {
    let settings = &shop.settings;
    let secure = settings.public_url.starts_with("https://") || settings.session.secure_cookie;
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

/// Tells the browser to drop the cookie `name`.
pub fn removal(shop: &Shop, name: &'static str) -> Cookie<'static> {
    let mut cookie = admin_cookie(shop, name, String::new());
    cookie.make_removal();
    cookie
}

/// `response` with `cookies` set.
pub fn with_cookies<const N: usize>(
    mut response: HttpResponse,
    cookies: [Cookie<'static>; N],
) -> Result<HttpResponse, PageError> {
    for cookie in cookies {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::Internal(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
}

fn shop_of(req: &HttpRequest) -> Result<web::Data<Shop>, PageError> {
    req.app_data::<web::Data<Shop>>()
        .cloned()
        .ok_or_else(|| PageError::Internal(anyhow::anyhow!("the shop is not configured")))
}

/// The 303 to the login page for a request without a live session. A GET
/// comes back to its own path; anything else to the dashboard.
fn to_login(req: &HttpRequest, shop: &Shop, stale_cookie: bool) -> actix_web::Error {
    let next = match req.method() {
        &Method::GET => req.uri().path_and_query().map_or("/admin", |p| p.as_str()),
        _ => "/admin",
    };
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, login_url(next)));
    if stale_cookie {
        response.cookie(removal(shop, STAFF_COOKIE));
    }
    InternalError::from_response("not signed in", response.finish()).into()
}

impl FromRequest for StaffSession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let shop = shop_of(&req)?;
            let Some(cookie) = req.cookie(STAFF_COOKIE) else {
                return Err(to_login(&req, &shop, false));
            };
            let session_id = cookie.value().to_owned();
            match staff::signed_in(&shop, &session_id)
                .await
                .map_err(PageError::from)?
            {
                Some(member) => Ok(Self::new(member, session_id)),
                None => Err(to_login(&req, &shop, true)),
            }
        })
    }
}

/// A back-office form from a signed-in staff member, whose CSRF token
/// matched their session's: `StaffForm { staff, form }`.
pub struct StaffForm<T> {
    pub staff: StaffSession,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for StaffForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let staff = StaffSession::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let staff = staff.await?;
            let body = body.await.map_err(body_error)?;
            let form = checked_form(&body, Some(&staff.csrf_token))?;
            Ok(Self { staff, form })
        })
    }
}

/// The login form, whose CSRF token matched the login cookie's (there is
/// no session to keep one yet). The token comes along for the page shown
/// again after a refusal.
pub struct LoginForm<T> {
    pub form: T,
    pub csrf_token: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for LoginForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
        Box::pin(async move {
            let body = body.await.map_err(body_error)?;
            let form = checked_form(&body, expected.as_deref())?;
            Ok(Self {
                form,
                csrf_token: expected.unwrap_or_default(),
            })
        })
    }
}

/// The address a staff login or a shopper's reset request is counted
/// under: the connection's peer, or with `admin.trust_forwarded_for` the
/// client a proxy names.
pub fn client_ip(req: &HttpRequest, shop: &Shop) -> String {
    let info = req.connection_info();
    let ip = if shop.settings.admin.trust_forwarded_for {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    ip.unwrap_or("unknown").chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_back_office_paths_are_followed() {
        assert_eq!(admin_next("/admin"), "/admin");
        assert_eq!(admin_next("/admin/orders?page=2"), "/admin/orders?page=2");
        assert_eq!(admin_next("/admin?x=1"), "/admin?x=1");
        for elsewhere in [
            "/",
            "/cart",
            "/administrator",
            "//evil.example/admin",
            "/admin/\t/x",
            "/admin/../cart",
            "/admin/%2E%2E/cart",
        ] {
            assert_eq!(admin_next(elsewhere), "/admin", "{elsewhere:?}");
        }
        assert_eq!(
            login_url("/admin/orders"),
            "/admin/login?next=%2Fadmin%2Forders"
        );
    }
}
