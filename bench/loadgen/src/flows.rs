//! Whole shopper journeys, as a browser walks them: fill a cart, send the
//! checkout form, place the order on the review, pay (cash on delivery,
//! by card at the provider, or at a convenience store), and land on the
//! confirmation. Each journey is one function over one [`Browser`].

use crate::browser::{Browser, Page};
use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// The demo catalogue's products.
pub const PRODUCTS: &[&str] = &[
    "espresso-cup",
    "pour-over-kettle",
    "hand-grinder",
    "filter-papers",
    "house-blend",
    "single-origin",
    "milk-jug",
    "cleaning-tablets",
    "travel-mug",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CashOnDelivery,
    Card,
    /// A card declined first, then paid on a second attempt.
    CardDeclinedFirst,
    ConvenienceStore,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::CashOnDelivery => "cash_on_delivery",
            Kind::Card => "card",
            Kind::CardDeclinedFirst => "card_declined_first",
            Kind::ConvenienceStore => "convenience_store",
        }
    }

    /// A kind by its name, for the benchmark's command line.
    pub fn named(name: &str) -> Option<Self> {
        [
            Kind::CashOnDelivery,
            Kind::Card,
            Kind::CardDeclinedFirst,
            Kind::ConvenienceStore,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// The mix of a soak: mostly the common journeys.
    pub fn pick() -> Self {
        match fastrand::u8(..100) {
            0..30 => Kind::CashOnDelivery,
            30..65 => Kind::Card,
            65..75 => Kind::CardDeclinedFirst,
            _ => Kind::ConvenienceStore,
        }
    }

    fn payment_method(self) -> &'static str {
        match self {
            Kind::CashOnDelivery => "offline:cash_on_delivery",
            Kind::Card | Kind::CardDeclinedFirst => "hosted:card",
            Kind::ConvenienceStore => "hosted:convenience_store",
        }
    }
}

/// How a journey ended.
#[derive(Debug)]
pub enum Outcome {
    /// On the confirmation page of order `number`; with the provider's
    /// session of a convenience-store payment, which the store settles
    /// later.
    Ordered {
        number: String,
        store_session: Option<String>,
    },
    /// The payment failed for good (the journey meant it to).
    Declined,
}

/// How long one journey may take before it counts as abandoned.
const JOURNEY_PATIENCE: Duration = Duration::from_secs(120);
/// Tries of the checkout form when a service behind it is unavailable.
const FORM_TRIES: u32 = 8;

pub async fn journey(browser: &mut Browser, kind: Kind, shopper: u64) -> anyhow::Result<Outcome> {
    let home = browser.get("home", "/").await?;
    let csrf = home.field("csrf_token").context("no CSRF token on /")?;
    let lines = 1 + fastrand::usize(..3);
    for _ in 0..lines {
        let product = PRODUCTS[fastrand::usize(..PRODUCTS.len())];
        let added = browser
            .post(
                "cart_add",
                "/cart/add",
                &csrf,
                &[
                    ("product_id", product.to_owned()),
                    ("quantity", (1 + fastrand::u8(..2)).to_string()),
                ],
            )
            .await?;
        expect_redirect(&added, "cart_add")?;
    }
    let email = format!("shopper{shopper}@soak.example");
    let mut choice = match kind {
        Kind::CardDeclinedFirst => "decline",
        Kind::ConvenienceStore => "convenience_store",
        _ => "card",
    };
    for attempt in 1..=2 {
        let where_to = place(browser, &csrf, kind, &email).await?;
        match pay(browser, where_to, choice).await? {
            Paid::Ordered {
                number,
                store_session,
            } => {
                return Ok(Outcome::Ordered {
                    number,
                    store_session,
                });
            }
            Paid::BackAtTheForm if kind == Kind::CardDeclinedFirst && attempt == 1 => {
                choice = "card";
            }
            Paid::BackAtTheForm if kind == Kind::CardDeclinedFirst => return Ok(Outcome::Declined),
            Paid::BackAtTheForm => bail!("payment failed without being declined"),
        }
    }
    Ok(Outcome::Declined)
}

/// The checkout form and "Place order" on the review: where the shop
/// sends the shopper next.
async fn place(
    browser: &mut Browser,
    csrf: &str,
    kind: Kind,
    email: &str,
) -> anyhow::Result<String> {
    let form = checkout_form(email, kind.payment_method());
    let mut tries = 0;
    loop {
        tries += 1;
        let sent = browser
            .post("checkout_form", "/checkout", csrf, &form)
            .await?;
        match sent.redirect() {
            Some("/checkout/review") => break,
            _ if sent.status == StatusCode::UNPROCESSABLE_ENTITY && tries < FORM_TRIES => {
                // The registration API did not answer: try again, as the
                // page asks.
                tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
            }
            _ => bail!(
                "checkout form: {} {:?}: {}",
                sent.status,
                sent.location,
                excerpt(&sent.body)
            ),
        }
    }
    let review = browser.get("review", "/checkout/review").await?;
    let mut fields = Vec::new();
    if let Some(version) = review.field("cart_version") {
        fields.push(("cart_version", version));
    }
    let placed = browser
        .post("place_order", "/checkout/review", csrf, &fields)
        .await?;
    placed
        .redirect()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("place order: {} {}", placed.status, excerpt(&placed.body)))
}

enum Paid {
    Ordered {
        number: String,
        store_session: Option<String>,
    },
    /// The attempt failed: the cart is the shopper's again.
    BackAtTheForm,
}

/// Follows the shop from "Place order" to the confirmation, paying at the
/// provider with `choice` when sent there.
async fn pay(browser: &mut Browser, mut next: String, choice: &str) -> anyhow::Result<Paid> {
    let started = Instant::now();
    let mut store_session = None;
    let mut paid = false;
    while started.elapsed() < JOURNEY_PATIENCE {
        if let Some(path) = browser.shop_path(&next).map(str::to_owned) {
            if let Some(query) = path.strip_prefix("/checkout/success?") {
                let page = browser.get("success", &path).await?;
                if page.status != StatusCode::OK {
                    bail!("success page: {}", page.status);
                }
                let number = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("order="))
                    .context("order number")?
                    .to_owned();
                return Ok(Paid::Ordered {
                    number,
                    store_session,
                });
            }
            if path == "/checkout" || path == "/cart" || path.starts_with("/checkout/expired") {
                return Ok(Paid::BackAtTheForm);
            }
            let step = match path.split('?').next().unwrap_or_default() {
                "/checkout/payment" => "payment",
                "/checkout/placeorder" => "placeorder",
                "/checkout/return" => "return",
                _ => "other",
            };
            let page = browser.get(step, &path).await?;
            match page.redirect() {
                Some(to) => next = to.to_owned(),
                None if page.status == StatusCode::OK => {
                    // The waiting page: it refreshes itself.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    next = "/checkout/payment".into();
                }
                None => bail!("{step}: {} {}", page.status, excerpt(&page.body)),
            }
            continue;
        }
        // At the provider's payment page: choose, once.
        let session = next.rsplit('/').next().unwrap_or_default().to_owned();
        if paid {
            // Sent back to a session already chosen on: the shop will
            // settle it; ask it again.
            tokio::time::sleep(Duration::from_millis(300)).await;
            next = "/checkout/payment".into();
            continue;
        }
        let chosen = browser
            .press("provider", &format!("{next}/{choice}"))
            .await?;
        paid = true;
        if choice == "convenience_store" {
            store_session = Some(session);
        }
        next = match chosen.redirect() {
            Some(back) => back.to_owned(),
            // Chosen before (a retried press): back to the shop.
            None => "/checkout/payment".into(),
        };
    }
    bail!("no confirmation after {:?}", started.elapsed())
}

fn checkout_form(email: &str, payment_method: &str) -> Vec<(&'static str, String)> {
    [
        ("email", email),
        ("billing_first_name", "Sam"),
        ("billing_last_name", "Soak"),
        ("billing_street", "Invalidenstraße"),
        ("billing_house_number", "117"),
        ("billing_postcode", "10115"),
        ("billing_city", "Berlin"),
        ("billing_country", "DE"),
        ("delivery_same_as_billing", "on"),
        ("shipping_method", "standard"),
        ("payment_method", payment_method),
        ("accept_terms", "on"),
        ("accept_privacy", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

fn expect_redirect(page: &Page, step: &str) -> anyhow::Result<()> {
    match page.redirect() {
        Some(_) => Ok(()),
        None => bail!("{step}: {} {}", page.status, excerpt(&page.body)),
    }
}

/// The start of a page, for error messages.
fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(200).collect();
    text.replace('\n', " ")
}
