//! kill -9 at every crash point. The real `kassa` binary (the tests' build
//! has the `failpoints` feature) kills itself with SIGKILL at a named point
//! (`kassa::crash::POINTS`); it is started again on the same database and
//! port, the shopper, the staff and the background work carry on as they
//! would, and then the books of the shop and of the provider must balance:
//! one live order per paid cart, nothing captured twice or beyond the
//! reservation, stock = initial − ordered, every confirmed registration
//! belongs to a paid order and every other one is deleted or still
//! waiting for its open cart, every mail sent once or twice.

use crate::admin_pages::version_on;
use crate::helpers::*;
use kassa::application::Shop;
use kassa::crash::POINTS;
use kassa::startup::{Application, Extras};
use kassa::store::audit::Books;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The ways through the shop the matrix drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Offline cash on delivery, with the registration API.
    CashOnDelivery,
    /// Card reserved at the provider, captured by staff, then refunded.
    CardCapturedRefunded,
    /// Card reserved, then the order cancelled by staff: released.
    CardReleased,
    /// The shopper declines at the provider: the attempt is rolled back.
    CardDeclined,
    /// Convenience store: on hold, then paid at the till.
    ConvenienceStore,
}

use Flow::*;

/// Each crash point and the flows that pass it.
const MATRIX: &[(&str, &[Flow])] = &[
    (
        "registration.created",
        &[CashOnDelivery, CardCapturedRefunded],
    ),
    (
        "placeorder.payment_started",
        &[CashOnDelivery, CardCapturedRefunded, ConvenienceStore],
    ),
    (
        "placeorder.payment_recorded",
        &[CashOnDelivery, CardCapturedRefunded, ConvenienceStore],
    ),
    ("placeorder.payment_confirmed", &[CardCapturedRefunded]),
    ("placeorder.payment_voided", &[CardDeclined]),
    (
        "placeorder.cart_frozen",
        &[CashOnDelivery, CardCapturedRefunded],
    ),
    ("placeorder.cart_reopened", &[CardDeclined]),
    (
        "placeorder.order_placed",
        &[CashOnDelivery, CardCapturedRefunded, ConvenienceStore],
    ),
    ("placeorder.order_cancelled", &[CardDeclined]),
    // Cash on delivery is settled with its order (order_placed).
    (
        "placeorder.order_settled",
        &[CardCapturedRefunded, ConvenienceStore],
    ),
    (
        "placeorder.step_done",
        &[CashOnDelivery, CardCapturedRefunded, CardDeclined],
    ),
    ("webhook.applied", &[CardCapturedRefunded, ConvenienceStore]),
    ("outbox.delivered", &[CashOnDelivery, CardCapturedRefunded]),
    (
        "mail.sent",
        &[CashOnDelivery, CardCapturedRefunded, ConvenienceStore],
    ),
    ("fulfilment.capture_answered", &[CardCapturedRefunded]),
    ("fulfilment.release_answered", &[CardReleased]),
    ("fulfilment.refund_answered", &[CardCapturedRefunded]),
];

on_both_backends!(
    cash_on_delivery_survives_a_kill_at_each_point,
    a_captured_and_refunded_card_survives_a_kill_at_each_point,
    a_released_card_survives_a_kill_at_each_point,
    a_declined_card_survives_a_kill_at_each_point,
    a_convenience_store_payment_survives_a_kill_at_each_point,
);

async fn cash_on_delivery_survives_a_kill_at_each_point(backend: Backend) {
    every_point_of(CashOnDelivery, backend).await;
}

async fn a_captured_and_refunded_card_survives_a_kill_at_each_point(backend: Backend) {
    every_point_of(CardCapturedRefunded, backend).await;
}

async fn a_released_card_survives_a_kill_at_each_point(backend: Backend) {
    every_point_of(CardReleased, backend).await;
}

async fn a_declined_card_survives_a_kill_at_each_point(backend: Backend) {
    every_point_of(CardDeclined, backend).await;
}

async fn a_convenience_store_payment_survives_a_kill_at_each_point(backend: Backend) {
    every_point_of(ConvenienceStore, backend).await;
}

#[test]
fn the_matrix_names_every_crash_point_once_and_each_is_in_the_code() {
    let named: Vec<&str> = MATRIX.iter().map(|(point, _)| *point).collect();
    assert_eq!(named, POINTS, "the matrix lists the points in their order");
    let mut in_code: Vec<String> = Vec::new();
    collect_points(std::path::Path::new("src"), &mut in_code);
    in_code.sort();
    in_code.dedup();
    let mut listed: Vec<String> = POINTS.iter().map(|p| p.to_string()).collect();
    listed.sort();
    assert_eq!(
        in_code, listed,
        "crash points in src/ versus kassa::crash::POINTS"
    );
    assert!(MATRIX.iter().all(|(_, flows)| !flows.is_empty()));
}

/// The names given to `crash::point(…)` in the sources under `dir`.
fn collect_points(dir: &std::path::Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_points(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // The names quoted inside each `crash::point(…);` call.
            for (start, _) in text.match_indices("crash::point(") {
                let call = &text[start..];
                let call = &call[..call.find(");").unwrap_or(call.len())];
                found.extend(call.split('"').skip(1).step_by(2).map(str::to_owned));
            }
        }
    }
}

async fn every_point_of(flow: Flow, backend: Backend) {
    let points: Vec<&str> = MATRIX
        .iter()
        .filter(|(_, flows)| flows.contains(&flow))
        .map(|(point, _)| *point)
        .collect();
    for point in points {
        let world = World::start(backend, flow, point).await;
        let books = world.drive().await;
        eprintln!(
            "{flow:?} × {point} on {backend:?}: killed, recovered, books balance ({} orders)",
            books.orders.len()
        );
    }
}

/// Where a request went when the node died under it.
#[derive(Debug)]
struct Down;

type Step<T> = Result<T, Down>;

fn sent(result: reqwest::Result<reqwest::Response>) -> Step<reqwest::Response> {
    result.map_err(|_| Down)
}

const SECRET: &str = "whsec_crash_matrix";
const PRODUCT: &str = "hand-grinder";
/// How long one stage may take before the test fails.
const STAGE: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that stays ours while the node is down. It lies
/// below the kernel's ephemeral range, so no server on port 0 and no
/// outgoing connection of a test running beside this one can take it
/// between the kill and the restart; the counter keeps this binary's
/// worlds apart, and a port another process holds is skipped.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 21_000;
    const SPAN: u16 = 10_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % u32::from(SPAN)) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < SPAN, "no free port left below the ephemeral range");
        let port = FIRST + (offset + n) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A sandbox provider process, one node process, and an idle in-process
/// view of the same database for reading the books.
struct World {
    flow: Flow,
    point: &'static str,
    sandbox: Child,
    node: Option<Child>,
    port: u16,
    /// The shopper: its client talks to the node process.
    app: TestApp,
    killed: bool,
    /// The shopper made their choice at the provider (kept across crashes:
    /// they do not pay twice).
    chose: std::cell::Cell<bool>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(node) = self.node.as_mut() {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = self.sandbox.kill();
        let _ = self.sandbox.wait();
    }
}

impl World {
    async fn start(backend: Backend, flow: Flow, point: &'static str) -> World {
        let resources = Arc::new(fresh_resources(backend).await);
        let sandbox_port = free_port();
        let sandbox = Command::new(env!("CARGO_BIN_EXE_kassa"))
            .args(["sandbox", "--bind", &format!("127.0.0.1:{sandbox_port}")])
            .current_dir(resources.data_dir.path())
            .env("KASSA_DATA_DIR", resources.data_dir.path())
            .env("KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let sandbox_url = format!("http://127.0.0.1:{sandbox_port}");
        wait_until_up(&format!("{sandbox_url}/v1/test/stats")).await;

        let port = free_port();
        let mut settings = node_settings(&resources);
        settings.payment.hosted.api_url = sandbox_url.clone();
        settings.payment.hosted.webhook_secret = Some(SECRET.to_owned().into());
        settings.payment.hosted.enabled = true;
        settings.registration.enabled = true;
        settings.registration.url = sandbox_url.clone();
        if flow != ConvenienceStore {
            settings.payment.hosted.capture = kassa::config::CaptureMode::Manual;
        }
        let mut world = World {
            flow,
            point,
            sandbox,
            node: None,
            port,
            app: idle_view(settings, resources, &sandbox_url, port).await,
            killed: false,
            chose: std::cell::Cell::new(false),
        };
        world.node = Some(world.spawn_node(Some(point)));
        wait_until_up(&world.app.url("/healthz")).await;
        world
    }

    /// The node process, with the crash point armed on its first start.
    fn spawn_node(&self, point: Option<&str>) -> Child {
        let settings = &self.app.settings;
        let mut command = Command::new(env!("CARGO_BIN_EXE_kassa"));
        command
            .current_dir(settings.data_dir.as_path())
            .env("KASSA_BIND", format!("127.0.0.1:{}", self.port))
            .env("KASSA_DATA_DIR", settings.data_dir.as_path())
            .env("KASSA_SANDBOX__SERVE_BESIDE_SHOP", "false")
            .env(
                "KASSA_PAYMENT__HOSTED__API_URL",
                &settings.payment.hosted.api_url,
            )
            .env("KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET", SECRET)
            .env(
                "KASSA_PAYMENT__HOSTED__CAPTURE",
                match settings.payment.hosted.capture {
                    kassa::config::CaptureMode::Manual => "manual",
                    kassa::config::CaptureMode::Automatic => "automatic",
                },
            )
            // Asked about soon when nobody reports (a webhook lost with the node).
            .env("KASSA_PAYMENT__HOSTED__RECONCILE_AFTER_MS", "500")
            .env("KASSA_REGISTRATION__URL", &settings.registration.url)
            .env("KASSA_PLACEORDER__LEASE_MS", "1000")
            .env("KASSA_PLACEORDER__SWEEP_INTERVAL_MS", "100")
            .env("KASSA_PLACEORDER__STALLED_AFTER_MS", "300")
            .env("KASSA_PLACEORDER__RECONCILE_PASS_MS", "2000")
            .env("KASSA_OUTBOX__POLL_MS", "50")
            .env("KASSA_OUTBOX__LOCK_MS", "2000")
            .env("KASSA_OUTBOX__RETRY_BASE_MS", "100")
            .env("KASSA_OUTBOX__RETRY_MAX_MS", "300")
            .env("KASSA_MAIL__TIMEOUT_MS", "1000")
            .env("RUST_LOG", "warn")
            .env_remove("FAILPOINTS")
            .stdout(Stdio::null());
        if !settings.database.url.is_empty() {
            command.env("KASSA_DATABASE__URL", &settings.database.url);
        }
        if let Some(point) = point {
            command.env("FAILPOINTS", format!("{point}=return"));
        }
        command.spawn().expect("the node starts")
    }

    /// Starts the node again if it died at its crash point; true if it had.
    async fn revive(&mut self) -> bool {
        let node = self.node.as_mut().expect("a node");
        let Some(status) = node.try_wait().unwrap() else {
            return false;
        };
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "{:?} × {}: the node ended otherwise than by its crash point: {status}",
            self.flow,
            self.point
        );
        assert!(!self.killed, "the crash point fires only on the first run");
        self.killed = true;
        self.node = Some(self.spawn_node(None));
        wait_until_up(&self.app.url("/healthz")).await;
        true
    }

    /// Runs `stage` until it reaches its goal, starting the node again
    /// whenever it dies under it.
    async fn stage<T>(&mut self, name: &str, mut stage: impl AsyncFnMut(&World) -> Step<T>) -> T {
        let deadline = tokio::time::Instant::now() + STAGE;
        loop {
            match stage(self).await {
                Ok(value) => {
                    self.revive().await;
                    return value;
                }
                Err(Down) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{:?} × {}: stage {name} never got through",
                        self.flow,
                        self.point
                    );
                    if !self.revive().await {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }

    /// Waits until `done` holds on the books, reviving the node meanwhile.
    async fn until(&mut self, what: &str, done: impl Fn(&Books) -> bool) -> Books {
        let deadline = tokio::time::Instant::now() + STAGE;
        loop {
            self.revive().await;
            let books = self.books().await;
            if done(&books) {
                return books;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?} × {}: never {what}; books: {books:#?}",
                self.flow,
                self.point
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn books(&self) -> Books {
        self.app.shop.store().books().await.expect("the books")
    }

    /// The whole flow, the crash and the recovery; then the invariants.
    async fn drive(mut self) -> Books {
        let initial = self.books().await.stock;
        // No crash point lies on the way to a filled cart.
        self.app.add_to_cart(PRODUCT, 1).await;
        let method = match self.flow {
            CashOnDelivery => "offline:cash_on_delivery",
            ConvenienceStore => "hosted:convenience_store",
            _ => "hosted:card",
        };
        let choice = match self.flow {
            CardDeclined => "decline",
            ConvenienceStore => "convenience_store",
            _ => "card",
        };
        let outcome = self
            .stage("check out", async |w| w.check_out(method, choice).await)
            .await;
        let number = match (self.flow, outcome) {
            (CardDeclined, Outcome::BackToForm) => None,
            (flow, Outcome::Ordered(number)) if flow != CardDeclined => Some(number),
            (_, Outcome::Elsewhere(at)) => panic!("the shopper was sent to {at} once more"),
            (flow, other) => panic!("{flow:?} ended in {other:?}"),
        };
        let settled =
            |b: &Books| b.outbox_waiting.is_empty() && b.mails.iter().all(|m| m.status != "queued");
        match self.flow {
            CashOnDelivery => {
                self.until("placed", |b| one_order_in(b, "placed") && settled(b))
                    .await;
            }
            CardDeclined => {
                self.until("rolled back", |b| {
                    b.orders.iter().all(|o| o.status == "cancelled")
                        && b.processes.iter().all(|p| p.state == "Failed")
                        && settled(b)
                })
                .await;
            }
            ConvenienceStore => {
                self.until("on hold", |b| one_order_in(b, "on_hold")).await;
                let session = self.only_session().await;
                self.stage("pay at the till", async |w| {
                    w.console(&session, "paid").await
                })
                .await;
                self.until("paid", |b| {
                    one_order_in(b, "placed")
                        && b.payments.iter().any(|p| p.status == "captured")
                        && settled(b)
                })
                .await;
            }
            CardCapturedRefunded | CardReleased => {
                self.until("reserved", |b| {
                    one_order_in(b, "placed") && b.payments.iter().any(|p| p.status == "authorized")
                })
                .await;
                let staff = self.stage("sign in", async |w| w.sign_in().await).await;
                let number = number.expect("an order");
                if self.flow == CardReleased {
                    self.stage("cancel the order", async |w| {
                        w.press(&staff, &number, "/cancel", &[]).await
                    })
                    .await;
                    self.until("released", |b| {
                        one_order_in(b, "cancelled")
                            && b.payments
                                .iter()
                                .all(|p| p.released && p.captured_minor == 0)
                            && settled(b)
                    })
                    .await;
                } else {
                    self.stage("capture", async |w| {
                        w.press(&staff, &number, "/capture", &[]).await
                    })
                    .await;
                    self.until("captured", |b| {
                        b.payments
                            .iter()
                            .any(|p| p.captured_minor == p.amount_minor)
                    })
                    .await;
                    let total = self.books().await.payments[0].amount_minor;
                    let amount = format!("{}.{:02}", total / 100, total % 100);
                    self.stage("refund", async |w| {
                        w.press(&staff, &number, "/refund", &[("amount", &amount)])
                            .await
                    })
                    .await;
                    self.until("refunded", |b| {
                        b.payments
                            .iter()
                            .any(|p| p.refunded_minor == p.amount_minor)
                            && settled(b)
                    })
                    .await;
                }
            }
        }
        assert!(
            self.killed,
            "{:?} never reached the crash point {}",
            self.flow, self.point
        );
        let books = self.books().await;
        let ledger = self.ledger().await;
        let violations = violations(&books, &ledger, &initial, &self.mail_files());
        assert!(
            violations.is_empty(),
            "{:?} × {}: {violations:#?}\nbooks: {books:#?}\nprovider: {ledger:#}",
            self.flow,
            self.point
        );
        books
    }

    /// The shopper goes where the shop sends them until there is an order
    /// (or, for a declined card, until they are back at the form).
    async fn check_out(&self, method: &str, choice: &str) -> Step<Outcome> {
        let form = with(checkout_form(), "payment_method", method);
        let mut at = "/checkout/payment".to_owned();
        for _ in 0..200 {
            let client = &self.app.client;
            let response = if at.starts_with("http") {
                // The provider's page: the shopper's choice, once.
                if self.chose.replace(true) {
                    return Ok(Outcome::Elsewhere(at));
                }
                sent(client.post(format!("{at}/{choice}")).send().await)?
            } else if at == "/checkout" {
                if self.chose.get() && self.flow == CardDeclined {
                    return Ok(Outcome::BackToForm);
                }
                let page = sent(client.get(self.app.url("/checkout")).send().await)?;
                let html = page.text().await.map_err(|_| Down)?;
                let mut fields = form.clone();
                fields.push(("csrf_token", csrf_token(&html)));
                sent(
                    client
                        .post(self.app.url("/checkout"))
                        .form(&fields)
                        .send()
                        .await,
                )?
            } else if at == "/checkout/review" {
                let page = sent(client.get(self.app.url("/checkout/review")).send().await)?;
                let html = page.text().await.map_err(|_| Down)?;
                let mut fields = vec![("csrf_token", csrf_token(&html))];
                if let Some(version) = review_version(&html) {
                    fields.push(("cart_version", version));
                }
                sent(
                    client
                        .post(self.app.url("/checkout/review"))
                        .form(&fields)
                        .send()
                        .await,
                )?
            } else if at.starts_with("/checkout/success") {
                return Ok(Outcome::Ordered(order_number(&at)));
            } else {
                sent(client.get(self.app.url(&at)).send().await)?
            };
            match response.status() {
                StatusCode::SEE_OTHER | StatusCode::FOUND => {
                    at = location(&response);
                    if let Some(path) = at.strip_prefix(&self.app.address) {
                        at = path.to_owned();
                    }
                }
                StatusCode::OK => {
                    // A waiting page: look again in a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    at = "/checkout/payment".to_owned();
                }
                other => panic!("{at} answered {other}"),
            }
        }
        panic!("the shopper went in circles; last at {at}");
    }

    /// A member of staff, signed in with the demo account.
    async fn sign_in(&self) -> Step<TestApp> {
        let staff = self.app.with_client(&client());
        let page = sent(staff.client.get(staff.url("/admin/login")).send().await)?;
        let html = page.text().await.map_err(|_| Down)?;
        let response = sent(
            staff
                .client
                .post(staff.url("/admin/login"))
                .form(&[
                    ("csrf_token", csrf_token(&html).as_str()),
                    ("email", "admin@kassa.example"),
                    ("password", "kassa-demo"),
                    ("next", "/admin"),
                ])
                .send()
                .await,
        )?;
        assert_redirect(&response, "/admin");
        Ok(staff)
    }

    /// A staff member's button on the order page, as the page shows it;
    /// one that is gone (already done) counts as pressed. A page that went
    /// stale meanwhile (the order moved on: 409) is read again.
    async fn press(
        &self,
        staff: &TestApp,
        number: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Step<()> {
        for _ in 0..20 {
            let page = sent(
                staff
                    .client
                    .get(staff.url(&format!("/admin/orders/{number}")))
                    .send()
                    .await,
            )?;
            let html = page.text().await.map_err(|_| Down)?;
            let action = format!("/admin/orders/{number}{path}\"");
            if !html.contains(&action) {
                return Ok(());
            }
            let token = csrf_token(&html);
            let version = version_on(&html);
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token), ("version", &version)];
            form.extend_from_slice(fields);
            let response = sent(
                staff
                    .client
                    .post(staff.url(&format!("/admin/orders/{number}{path}")))
                    .form(&form)
                    .send()
                    .await,
            )?;
            if response.status() == StatusCode::CONFLICT {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert!(
                response.status().is_redirection(),
                "{path}: {}",
                response.status()
            );
            return Ok(());
        }
        panic!("{path}: the order page stayed stale");
    }

    async fn console(&self, session: &str, what: &str) -> Step<()> {
        let url = format!(
            "{}/console/{session}/{what}",
            self.app.sandbox.as_ref().unwrap()
        );
        let response = sent(self.app.client.post(url).send().await)?;
        assert!(response.status().is_redirection(), "{}", response.status());
        Ok(())
    }

    async fn only_session(&self) -> String {
        let books = self.books().await;
        books.payments[0]
            .provider_reference
            .clone()
            .expect("a provider session")
    }

    async fn ledger(&self) -> serde_json::Value {
        let url = format!("{}/v1/test/ledger", self.app.sandbox.as_ref().unwrap());
        reqwest::get(url).await.unwrap().json().await.unwrap()
    }

    /// Message-ID → how many times a mail went out (the demo's file transport).
    fn mail_files(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let dir = self.app.settings.data_dir.join("mail");
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            if let Some(id) = text
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: <"))
                .and_then(|rest| rest.split('@').next())
            {
                *counts.entry(id.to_owned()).or_default() += 1;
            }
        }
        counts
    }
}

#[derive(Debug)]
enum Outcome {
    Ordered(String),
    BackToForm,
    Elsewhere(String),
}

const SIGKILL: i32 = 9;

fn one_order_in(books: &Books, status: &str) -> bool {
    books.orders.len() == 1 && books.orders[0].status == status
}

/// A view of the node's database without serving or background work: the
/// books are read through it, the shopper's client talks to the process.
pub(crate) async fn idle_view(
    mut settings: kassa::config::Settings,
    resources: Arc<Resources>,
    sandbox_url: &str,
    port: u16,
) -> TestApp {
    // The node process migrates and seeds; this view only reads.
    let mut view = settings.clone();
    view.bind = "127.0.0.1:0".into();
    let app = Application::build_with(view, Extras::default())
        .await
        .expect("the view builds");
    let shop: Shop = app.shop().clone();
    let handle = app.handle();
    settings.bind = format!("127.0.0.1:{port}");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        shop,
        client: client(),
        settings,
        handle,
        resources,
        gateways: Vec::new(),
        sandbox: Some(sandbox_url.to_owned()),
    }
}

pub(crate) async fn wait_until_up(url: &str) {
    for _ in 0..200 {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} never answered");
}

/// What is wrong with the books, each as a sentence; empty when they balance.
fn violations(
    books: &Books,
    ledger: &serde_json::Value,
    initial_stock: &[(String, i64)],
    mail_files: &HashMap<String, usize>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let live = |o: &&kassa::store::audit::AuditOrder| o.status != "cancelled";
    // One live order per cart.
    let mut per_cart: HashMap<&str, usize> = HashMap::new();
    for order in books.orders.iter().filter(live) {
        *per_cart.entry(order.cart_id.as_str()).or_default() += 1;
    }
    for (cart, count) in &per_cart {
        if *count > 1 {
            wrong.push(format!("cart {cart} has {count} live orders"));
        }
    }
    // Money: the provider's books against the shop's.
    let sessions = ledger["sessions"].as_array().cloned().unwrap_or_default();
    for session in &sessions {
        let id = session["id"].as_str().unwrap_or_default();
        let amount = session["request"]["amount_minor"].as_i64().unwrap_or(0);
        let captured = session["captured_minor"].as_i64().unwrap_or(0);
        let refunded = session["refunded_minor"].as_i64().unwrap_or(0);
        if captured > amount {
            wrong.push(format!(
                "session {id}: captured {captured} of {amount} reserved"
            ));
        }
        if refunded > captured {
            wrong.push(format!(
                "session {id}: refunded {refunded} of {captured} captured"
            ));
        }
        let done: i64 = session["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["kind"] == "capture" && o["outcome"]["result"] == "done")
            .map(|o| o["amount_minor"].as_i64().unwrap_or(0))
            .sum();
        if done > amount {
            wrong.push(format!(
                "session {id}: captures of {done} done for {amount}"
            ));
        }
        let Some(payment) = books
            .payments
            .iter()
            .find(|p| p.provider_reference.as_deref() == Some(id))
        else {
            let status = session["status"].as_str().unwrap_or_default();
            if captured > 0 || status == "authorized" {
                wrong.push(format!(
                    "session {id} ({status}) holds money the shop does not know of"
                ));
            }
            continue;
        };
        if payment.captured_minor != captured || payment.refunded_minor != refunded {
            wrong.push(format!(
                "payment {}: shop says captured {} refunded {}, provider {captured} {refunded}",
                payment.id, payment.captured_minor, payment.refunded_minor
            ));
        }
    }
    // A payment with money kept has exactly one live order.
    for payment in &books.payments {
        let keeps_money = payment.captured_minor > payment.refunded_minor
            || (payment.status == "authorized" && !payment.released);
        if !keeps_money {
            continue;
        }
        let order = payment
            .order_id
            .as_ref()
            .and_then(|id| books.orders.iter().find(|o| &o.id == id));
        if !order.is_some_and(|o| live(&o)) {
            wrong.push(format!(
                "payment {} keeps money without a live order ({:?})",
                payment.id,
                order.map(|o| &o.status)
            ));
        }
    }
    // Stock = initial − ordered.
    for (product, before) in initial_stock {
        let ordered: i64 = books
            .lines
            .iter()
            .filter(|l| &l.product_id == product)
            .filter(|l| books.orders.iter().any(|o| o.id == l.order_id && live(&o)))
            .map(|l| l.quantity)
            .sum();
        let now = books
            .stock
            .iter()
            .find(|(p, _)| p == product)
            .map(|(_, s)| *s)
            .unwrap_or(0);
        if now != before - ordered {
            wrong.push(format!(
                "{product}: stock {now}, but {before} − {ordered} ordered"
            ));
        }
    }
    // Registrations at the customer system against the shop.
    for registration in ledger["registrations"].as_array().into_iter().flatten() {
        let id = registration["id"].as_str().unwrap_or_default();
        let status = registration["status"].as_str().unwrap_or_default();
        let row = books.registrations.iter().find(|r| r.registration_id == id);
        let ordered = books
            .orders
            .iter()
            .any(|o| o.registration_id.as_deref() == Some(id) && live(&o));
        match status {
            "confirmed" if !ordered => {
                wrong.push(format!("registration {id} confirmed without a live order"))
            }
            "pending" => {
                let waiting = row.is_some_and(|r| r.status == "pending")
                    && !books.orders.iter().any(|o| {
                        Some(o.cart_id.as_str()) == row.map(|r| r.cart_id.as_str()) && live(&o)
                    });
                if !waiting {
                    wrong.push(format!("registration {id} left pending ({row:?})"));
                }
            }
            _ => {}
        }
        if let Some(row) = row
            && row.status != status
            && !(row.status == "abandoned" && status == "pending")
        {
            wrong.push(format!(
                "registration {id}: shop says {}, customer system {status}",
                row.status
            ));
        }
    }
    for process in &books.processes {
        if process.state != "Success" && process.state != "Failed" {
            wrong.push(format!("process {} stuck in {}", process.id, process.state));
        }
    }
    // Mails: each sent once or twice, none waiting or failed.
    for mail in &books.mails {
        let copies = mail_files.get(&mail.id).copied().unwrap_or(0);
        match mail.status.as_str() {
            "sent" if (1..=2).contains(&copies) => {}
            // A try that reached the server before its node died may be out.
            "withdrawn" if copies <= 1 => {}
            other => wrong.push(format!(
                "mail {} ({}) is {other} with {copies} copies sent",
                mail.id, mail.kind
            )),
        }
    }
    wrong
}

#[test]
fn the_books_check_finds_each_kind_of_fault() {
    use kassa::store::audit::*;
    let order = |id: &str, status: &str| AuditOrder {
        id: id.into(),
        number: format!("K-{id}"),
        cart_id: "cart".into(),
        status: status.into(),
        registration_id: None,
    };
    let books = Books {
        orders: vec![order("1", "placed"), order("2", "placed")],
        lines: vec![AuditLine {
            order_id: "1".into(),
            product_id: PRODUCT.into(),
            quantity: 1,
        }],
        payments: vec![AuditPayment {
            id: "p".into(),
            cart_id: "cart".into(),
            order_id: Some("9".into()),
            method: "card".into(),
            status: "captured".into(),
            amount_minor: 100,
            captured_minor: 100,
            refunded_minor: 0,
            released: false,
            provider_reference: Some("ps_1".into()),
        }],
        registrations: Vec::new(),
        processes: vec![AuditProcess {
            id: "pr".into(),
            cart_id: "cart".into(),
            state: "PlaceOrder".into(),
            failure: None,
        }],
        mails: vec![AuditMail {
            id: "m".into(),
            kind: "order_confirmation".into(),
            status: "sent".into(),
        }],
        stock: vec![(PRODUCT.into(), 8)],
        outbox_waiting: Vec::new(),
    };
    let ledger = serde_json::json!({
        "sessions": [
            { "id": "ps_1", "status": "captured", "request": { "amount_minor": 100 },
              "captured_minor": 200, "refunded_minor": 0, "operations": [] },
            { "id": "ps_2", "status": "authorized", "request": { "amount_minor": 100 },
              "captured_minor": 0, "refunded_minor": 0, "operations": [] }
        ],
        "registrations": [ { "id": "r1", "status": "pending" } ]
    });
    let found = violations(&books, &ledger, &[(PRODUCT.into(), 10)], &HashMap::new());
    let expect = [
        "cart cart has 2 live orders",
        "session ps_1: captured 200 of 100 reserved",
        "payment p: shop says captured 100 refunded 0, provider 200 0",
        "session ps_2 (authorized) holds money the shop does not know of",
        "payment p keeps money without a live order (None)",
        "hand-grinder: stock 8, but 10 − 1 ordered",
        "registration r1 left pending (None)",
        "process pr stuck in PlaceOrder",
        "mail m (order_confirmation) is sent with 0 copies sent",
    ];
    for sentence in expect {
        assert!(
            found.iter().any(|f| f == sentence),
            "{sentence:?} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}
