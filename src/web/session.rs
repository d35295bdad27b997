//! The typed session: only ids and small tokens live here, the cart lives in
//! the database (cookie sessions hold under 4 KB). Nothing a shopper types is
//! kept here beyond a short bound, and a value that would not fit is refused
//! with a clear page instead of failing when the session is saved.

use crate::application::Shop;
use crate::application::accounts::{self, LoggedIn};
use crate::application::cart::CartClaim;
use crate::domain::cart::CartOwner;
use crate::domain::order::OrderRef;
use crate::ids::random_token;
use crate::web::error::{PageError, PageResult};
use actix_session::{Session, SessionExt};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};

const CART: &str = "cart";
/// The guest's secret that their carts are stored with.
const GUEST: &str = "guest";
const USER: &str = "user";
pub(super) const CSRF_KEY: &str = "csrf";
const FLASH: &str = "flash";
const LAST_ORDER: &str = "last_order";
/// Told to a shopper whose login a new password ended.
const LOGIN_ENDED: &str = "Your password was changed, so you were logged out. Please log in again.";

/// The most the session state may take as JSON. The cookie store encrypts
/// it (a third larger in base64, plus the cookie's name), and browsers keep
/// cookies of up to 4096 bytes; Redis sessions keep the same bound.
const STATE_MAX_BYTES: usize = 2800;
/// Flash messages are cut to this many characters...
const FLASH_MAX_CHARS: usize = 300;
/// ...and only the newest few wait for the next page.
const FLASH_MAX_MESSAGES: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: String,
    pub email: String,
    /// The password the login was made with (`accounts::login_stamp`);
    /// empty in a login from before stamps, which no longer stands.
    #[serde(default)]
    pub stamp: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashKind {
    Info,
    Error,
}

/// A message shown once on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn is_error(&self) -> bool {
        self.kind == FlashKind::Error
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastOrder {
    number: String,
    token: String,
}

pub struct ShopSession(Session);

impl FromRequest for ShopSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}

fn insert_error(e: actix_session::SessionInsertError) -> PageError {
    PageError::Internal(anyhow::anyhow!("session insert: {e}"))
}

impl ShopSession {
    fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        // An unreadable value is treated as absent; it is overwritten later.
        self.0.get(key).ok().flatten()
    }

    /// Stores `value` unless the state would then be too large to save,
    /// in which case nothing changes and the shopper gets an error page.
    fn set<T: Serialize>(&self, key: &str, value: &T) -> PageResult<()> {
        let encoded = serde_json::to_string(value)
            .map_err(|e| PageError::Internal(anyhow::anyhow!("session value: {e}")))?;
        let mut state = self.0.entries().clone();
        state.insert(key.to_owned(), encoded);
        let size = serde_json::to_string(&state).map_or(usize::MAX, |json| json.len());
        if size > STATE_MAX_BYTES {
            tracing::warn!(key, size, "session state would be too large");
            return Err(PageError::SessionFull);
        }
        self.0.insert(key, value).map_err(insert_error)
    }

    pub fn cart_id(&self) -> Option<String> {
        self.get(CART)
    }

    pub fn set_cart_id(&self, id: &str) -> PageResult<()> {
        if self.cart_id().as_deref() != Some(id) {
            self.set(CART, &id)?;
        }
        Ok(())
    }

    /// Who this shopper is to a cart: their account when logged in, else
    /// the guest secret, if this session has made one.
    pub fn cart_owner(&self) -> Option<CartOwner> {
        match self.user() {
            Some(user) => Some(CartOwner::Account(user.id)),
            None => self.get(GUEST).map(CartOwner::Guest),
        }
    }

    /// The shopper as a cart owner, a new guest if need be.
    pub fn cart_owner_or_new_guest(&self) -> PageResult<CartOwner> {
        if let Some(owner) = self.cart_owner() {
            return Ok(owner);
        }
        let token = random_token();
        self.set(GUEST, &token)?;
        Ok(CartOwner::Guest(token))
    }

    /// The cart this session names and who asks for it.
    pub fn cart_claim(&self) -> CartClaim {
        CartClaim {
            cart_id: self.cart_id(),
            owner: self.cart_owner(),
        }
    }

    pub fn user(&self) -> Option<SessionUser> {
        self.get(USER)
    }

    pub fn user_id(&self) -> Option<String> {
        self.user().map(|u| u.id)
    }

    /// A new session id and CSRF token on login, so a planted session or a
    /// token seen before login is worth nothing. The guest secret and cart
    /// go too: a copy of the old cookie still decodes (cookie store), so the
    /// caller names the account's cart afresh (see `cart::after_login`).
    pub fn log_in(&self, user: &LoggedIn) -> PageResult<()> {
        self.0.renew();
        self.0.remove(CSRF_KEY);
        self.0.remove(GUEST);
        self.0.remove(CART);
        self.set(
            USER,
            &SessionUser {
                id: user.user_id.clone(),
                email: user.email.clone(),
                stamp: user.stamp.clone(),
            },
        )
    }

    /// Ends a login that no longer stands, keeping the session: a new id
    /// and form token, no account, none of its cart and not its last order.
    fn end_login(&self) {
        self.0.renew();
        self.0.remove(USER);
        self.0.remove(CART);
        self.0.remove(LAST_ORDER);
        self.0.remove(CSRF_KEY);
    }

    pub fn log_out(&self) {
        self.0.purge();
    }

    /// The session's CSRF token, created on first use.
    pub fn csrf_token(&self) -> PageResult<String> {
        if let Some(token) = self.get::<String>(CSRF_KEY) {
            return Ok(token);
        }
        let token = random_token();
        self.set(CSRF_KEY, &token)?;
        Ok(token)
    }

    /// A message for the next page. Messages are short and few: forms sent
    /// again and again without a page in between do not pile up, and a long
    /// text (from a provider, say) is cut.
    pub fn flash(&self, kind: FlashKind, text: impl Into<String>) -> PageResult<()> {
        let flash = Flash {
            kind,
            text: bounded(&text.into()),
        };
        let mut messages: Vec<Flash> = self.get(FLASH).unwrap_or_default();
        messages.retain(|m| m.text != flash.text);
        messages.push(flash);
        let excess = messages.len().saturating_sub(FLASH_MAX_MESSAGES);
        messages.drain(..excess);
        // Older messages give way before the request is refused.
        loop {
            match self.set(FLASH, &messages) {
                Err(PageError::SessionFull) if messages.len() > 1 => {
                    messages.remove(0);
                }
                outcome => return outcome,
            }
        }
    }

    pub fn take_flash(&self) -> Vec<Flash> {
        let messages: Vec<Flash> = self.get(FLASH).unwrap_or_default();
        if !messages.is_empty() {
            self.0.remove(FLASH);
        }
        messages
    }

    /// The order was placed: the cart is done, the confirmation remembered.
    pub fn order_placed(&self, order: &OrderRef) -> PageResult<()> {
        self.0.remove(CART);
        self.set(
            LAST_ORDER,
            &LastOrder {
                number: order.number.clone(),
                token: order.token.clone(),
            },
        )
    }

    pub fn last_order(&self) -> Option<OrderRef> {
        self.get::<LastOrder>(LAST_ORDER).map(|o| OrderRef {
            number: o.number,
            token: o.token,
        })
    }
}

/// Logs out a shopper whose account's password changed since they logged
/// in, before any page sees their session: a new password (by a reset
/// link) ends the account's logins on other devices, and copies of their
/// session cookie, which the cookie store cannot revoke by itself.
/// (Style sheets and other files under `/static/` are not looked at: they
/// show nothing of the account.)
pub async fn end_outdated_login(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let session = ShopSession(req.get_session());
    if !req.path().starts_with("/static/")
        && let Some(user) = session.user()
    {
        let shop = req.app_data::<web::Data<Shop>>().ok_or_else(|| {
            PageError::Internal(anyhow::anyhow!("no shop to check a login against"))
        })?;
        let stands = accounts::login_stands(shop, &user.id, &user.stamp)
            .await
            .map_err(PageError::from)?;
        if !stands {
            tracing::info!(user = %user.id, "login ended: the account's password changed");
            session.end_login();
            // A login from before stamps ends without a word about passwords.
            if !user.stamp.is_empty() {
                session.flash(FlashKind::Info, LOGIN_ENDED)?;
            }
        }
    }
    next.call(req).await
}

/// `text` on one line and at most `FLASH_MAX_CHARS` characters long.
fn bounded(text: &str) -> String {
    let line = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    if text.chars().count() <= FLASH_MAX_CHARS {
        line.collect()
    } else {
        line.take(FLASH_MAX_CHARS - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn session() -> ShopSession {
        ShopSession(TestRequest::default().to_http_request().get_session())
    }

    fn state_size(session: &ShopSession) -> usize {
        serde_json::to_string(&*session.0.entries()).unwrap().len()
    }

    #[test]
    fn a_value_that_would_not_fit_is_refused_and_nothing_changes() {
        let session = session();
        session.set_cart_id("cart-1").unwrap();
        let huge = "c".repeat(STATE_MAX_BYTES);
        assert!(matches!(
            session.set_cart_id(&huge),
            Err(PageError::SessionFull)
        ));
        assert_eq!(session.cart_id().as_deref(), Some("cart-1"));
    }

    #[test]
    fn flash_messages_stay_few_short_and_within_the_bound() {
        let session = session();
        session.set_cart_id(&"c".repeat(1000)).unwrap();
        for i in 0..20 {
            let text = format!("{i} {}", "\"ä".repeat(1000));
            session.flash(FlashKind::Error, text).unwrap();
            assert!(state_size(&session) <= STATE_MAX_BYTES);
        }
        let shown = session.take_flash();
        assert!(!shown.is_empty() && shown.len() <= FLASH_MAX_MESSAGES);
        assert!(shown.last().unwrap().text.starts_with("19 "));
        assert!(
            shown
                .iter()
                .all(|m| m.text.chars().count() <= FLASH_MAX_CHARS)
        );
    }

    #[test]
    fn the_largest_state_fits_in_a_cookie_a_browser_keeps() {
        use actix_web::cookie::{Cookie, CookieJar, Key};
        let state = "x".repeat(STATE_MAX_BYTES);
        let mut jar = CookieJar::new();
        jar.private_mut(&Key::generate())
            .add(Cookie::new("kassa_session", state));
        let sent = jar.get("kassa_session").unwrap().encoded().to_string();
        // Path, Max-Age, HttpOnly, SameSite and Secure take under 70 bytes.
        assert!(sent.len() + 70 <= 4096, "{} bytes", sent.len());
    }

    #[test]
    fn the_same_message_twice_is_shown_once() {
        let session = session();
        session.flash(FlashKind::Info, "Saved.").unwrap();
        session.flash(FlashKind::Info, "Saved.").unwrap();
        assert_eq!(session.take_flash().len(), 1);
    }

    #[test]
    fn long_flash_text_is_cut_by_characters() {
        assert_eq!(bounded("Saved."), "Saved.");
        let cut = bounded(&"ä".repeat(1000));
        assert_eq!(cut.chars().count(), FLASH_MAX_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("two\nlines"), "two lines");
    }
}
