//! Starting a shop and acting like a shopper.

use actix_web::dev::ServerHandle;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kassa::application::Shop;
use kassa::config::{SessionStoreKind, Settings};
use kassa::payment::PaymentGateway;
use kassa::startup::{Application, Extras};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::sync::Arc;
use tempfile::TempDir;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests (`postgres://user@host:port/db`); each
/// test makes its own database there. Only tests marked `#[ignore]` as
/// needing PostgreSQL ask for it: run with `--include-ignored`, and they
/// fail here when the variable is missing rather than pass unrun.
pub fn postgres_server() -> String {
    std::env::var("KASSA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(
            "this test needs PostgreSQL: set KASSA_TEST_DATABASE_URL \
             (e.g. postgres://postgres@127.0.0.1:5432/test)",
        )
}

/// The Redis server for tests, likewise.
pub fn redis_server() -> String {
    std::env::var("KASSA_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("this test needs Redis: set KASSA_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)")
}

/// Runs each listed `async fn name(backend: Backend)` as two tests: on
/// SQLite, and on PostgreSQL. The PostgreSQL one is ignored unless asked
/// for with `--include-ignored`, and then needs `KASSA_TEST_DATABASE_URL`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL (KASSA_TEST_DATABASE_URL); run with --include-ignored"]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// A database of its own for one test, dropped when the test is done.
pub struct TestDatabase {
    server: String,
    name: String,
    pub url: String,
}

/// `url` with its database part replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (rest, query) = match url.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = rest.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match rest[scheme_end..].find('/') {
        Some(slash) => &rest[..scheme_end + slash],
        None => rest,
    };
    format!("{base}/{name}{query}")
}

impl TestDatabase {
    pub async fn create(server: &str) -> Self {
        let name = format!("kassa_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(server)
            .await
            .expect("connect to PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        Self {
            url: with_database(server, &name),
            server: server.to_owned(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs outside any runtime's reach: use a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&server).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// What must live as long as the test: the data dir and the database.
pub struct Resources {
    pub data_dir: TempDir,
    pub database: Option<TestDatabase>,
}

pub struct TestApp {
    pub address: String,
    pub shop: Shop,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub handle: ServerHandle,
    pub resources: Arc<Resources>,
    pub gateways: Vec<Arc<dyn PaymentGateway>>,
    /// The sandbox provider beside this node, if it runs one.
    pub sandbox: Option<String>,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Fresh storage for a test: a temp data dir (with the SQLite file) and,
/// for PostgreSQL, a database of its own.
pub async fn fresh_resources(backend: Backend) -> Resources {
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TestDatabase::create(&postgres_server()).await),
    };
    Resources {
        data_dir: TempDir::new().expect("temp dir"),
        database,
    }
}

/// Settings of a node on `resources`, listening on a free port.
pub fn node_settings(resources: &Resources) -> Settings {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: resources.data_dir.path().to_path_buf(),
        ..Settings::default()
    };
    if let Some(db) = &resources.database {
        settings.database.url = db.url.clone();
    }
    // The hosted provider and its sandbox only where a test asks for them.
    settings.payment.hosted.enabled = false;
    settings.registration.enabled = false;
    settings.sandbox.serve_beside_shop = false;
    settings.sandbox.bind = "127.0.0.1:0".into();
    settings
}

/// Sessions in the test Redis.
pub fn use_redis_sessions(settings: &mut Settings) {
    settings.session.store = SessionStoreKind::Redis;
    settings.session.url = redis_server();
}

/// A shop with the demo data on fresh storage, settings adjusted by `adjust`.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let resources = Arc::new(fresh_resources(backend).await);
    let mut settings = node_settings(&resources);
    adjust(&mut settings);
    start_node(settings, resources).await
}

/// Starts a server with `settings` (another node, or the same one again).
pub async fn start_node(settings: Settings, resources: Arc<Resources>) -> TestApp {
    start_node_with(settings, resources, Vec::new()).await
}

/// Starts a server that also offers `gateways`.
pub async fn start_node_with(
    settings: Settings,
    resources: Arc<Resources>,
    gateways: Vec<Arc<dyn PaymentGateway>>,
) -> TestApp {
    let extras = Extras {
        gateways: gateways.clone(),
    };
    let app = Application::build_with(settings.clone(), extras)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let sandbox = app
        .sandbox_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let shop = app.shop().clone();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        shop,
        client: client(),
        settings,
        handle,
        resources,
        gateways,
        sandbox,
    }
}

/// A valid checkout form for a guest, paying cash on delivery.
pub fn checkout_form() -> Vec<(&'static str, String)> {
    [
        ("email", "ann@example.com"),
        ("billing_first_name", "Ann"),
        ("billing_last_name", "Lee"),
        ("billing_street", "Invalidenstraße"),
        ("billing_house_number", "117"),
        ("billing_postcode", "10115"),
        ("billing_city", "Berlin"),
        ("billing_country", "DE"),
        ("delivery_same_as_billing", "on"),
        ("shipping_method", "standard"),
        ("payment_method", "offline:cash_on_delivery"),
        ("accept_terms", "on"),
        ("accept_privacy", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// The form with `field` set to `value` (added when missing).
pub fn with(
    mut form: Vec<(&'static str, String)>,
    field: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    match form.iter_mut().find(|(k, _)| *k == field) {
        Some(entry) => entry.1 = value.to_owned(),
        None => form.push((field, value.to_owned())),
    }
    form
}

/// The form without `field`.
pub fn without(form: Vec<(&'static str, String)>, field: &str) -> Vec<(&'static str, String)> {
    form.into_iter().filter(|(k, _)| *k != field).collect()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[track_caller]
pub fn assert_redirect(response: &reqwest::Response, to: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect to {to}"
    );
    assert_eq!(location(response), to);
}

/// "Place order" answered with the order's confirmation (cash on delivery
/// places it at once): the confirmation's URL.
pub fn assert_placed(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect to the confirmation"
    );
    let success = location(response);
    assert!(
        success.starts_with("/checkout/success?order=K-"),
        "{success}"
    );
    success
}

/// The cart version a review page shows, if it is one.
pub fn review_version(html: &str) -> Option<String> {
    let marker = "name=\"cart_version\" value=\"";
    let start = html.find(marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// The value of `name="csrf_token"` on a page.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF token") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    /// Stops this server and starts it again on the same storage; the
    /// shopper's client (and cookies) stay.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        self.start_again().await
    }

    /// Stops this server at once, as a crash would: requests in flight are
    /// dropped where they are. Then starts it again on the same storage.
    pub async fn crash_and_restart(self) -> TestApp {
        self.handle.stop(false).await;
        self.start_again().await
    }

    async fn start_again(self) -> TestApp {
        let client = self.client.clone();
        let mut restarted = start_node_with(
            self.settings.clone(),
            self.resources.clone(),
            self.gateways.clone(),
        )
        .await;
        restarted.client = client;
        restarted
    }

    /// This node talked to by `client`: cookies are per host, not per
    /// port, so one client's session goes to every node on 127.0.0.1.
    pub fn with_client(&self, client: &reqwest::Client) -> TestApp {
        TestApp {
            address: self.address.clone(),
            shop: self.shop.clone(),
            client: client.clone(),
            settings: self.settings.clone(),
            handle: self.handle.clone(),
            resources: self.resources.clone(),
            gateways: self.gateways.clone(),
            sandbox: self.sandbox.clone(),
        }
    }

    /// Another node on the same storage and settings, with its own client.
    pub async fn another_node(&self) -> TestApp {
        start_node_with(
            self.settings.clone(),
            self.resources.clone(),
            self.gateways.clone(),
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token of this client's session.
    pub async fn csrf(&self) -> String {
        csrf_token(&self.get_html("/").await)
    }

    /// POSTs a form with this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, String)]) -> reqwest::Response {
        let mut body: Vec<(&str, String)> = fields.to_vec();
        body.push(("csrf_token", self.csrf().await));
        self.client
            .post(self.url(path))
            .form(&body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn add_to_cart(&self, product: &str, quantity: i64) -> reqwest::Response {
        self.post(
            "/cart/add",
            &[
                ("product_id", product.to_owned()),
                ("quantity", quantity.to_string()),
            ],
        )
        .await
    }

    pub async fn submit_checkout(&self, form: &[(&str, String)]) -> reqwest::Response {
        self.post("/checkout", form).await
    }

    /// "Place order" on the review, for the cart version the review shows
    /// (none when the review is not shown).
    pub async fn confirm_review(&self) -> reqwest::Response {
        let version = review_version(&self.get_html("/checkout/review").await);
        self.place_reviewed(version).await
    }

    /// "Place order" on a review page that showed `version` (left open).
    pub async fn place_reviewed(&self, version: Option<String>) -> reqwest::Response {
        let fields: Vec<(&str, String)> =
            version.map(|v| ("cart_version", v)).into_iter().collect();
        self.post("/checkout/review", &fields).await
    }

    /// The cart version the review page shows now.
    pub async fn reviewed_version(&self) -> Option<String> {
        review_version(&self.get_html("/checkout/review").await)
    }

    /// From a filled cart to the success page with the default flags;
    /// returns the success URL.
    pub async fn buy(&self, form: &[(&str, String)]) -> String {
        assert_redirect(&self.submit_checkout(form).await, "/checkout/review");
        // Placed at once (cash on delivery): straight to the confirmation.
        let placed = self.confirm_review().await;
        assert_eq!(placed.status(), StatusCode::SEE_OTHER);
        let success = location(&placed);
        assert!(
            success.starts_with("/checkout/success?order=K-"),
            "{success}"
        );
        success
    }

    /// The stored order with this number.
    pub async fn order(&self, number: &str) -> kassa::domain::order::Order {
        self.shop
            .store()
            .order_by_number(number)
            .await
            .expect("order query")
            .expect("order exists")
    }

    /// The newest place-order process of the shop.
    pub async fn latest_process(&self) -> kassa::domain::placeorder::Process {
        self.shop
            .store()
            .latest_process()
            .await
            .unwrap()
            .expect("a process")
    }

    pub async fn order_count(&self) -> i64 {
        self.shop
            .store()
            .count_live_orders()
            .await
            .expect("count orders")
    }

    pub async fn stock_of(&self, product: &str) -> i64 {
        self.shop
            .store()
            .product(product)
            .await
            .expect("product query")
            .expect("product exists")
            .stock
    }
}

/// The order number in a success URL.
pub fn order_number(success_url: &str) -> String {
    success_url
        .split("order=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("order number in URL")
        .to_owned()
}

/// The sandbox's stats (`GET {sandbox}{path}`), with its call counts.
pub async fn fetch_stats(app: &TestApp, path: &str) -> serde_json::Value {
    let url = format!("{}{path}", app.sandbox.as_ref().expect("a sandbox"));
    app.client
        .get(url)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON")
}

/// Calls of `operation` the sandbox received, per subject (session id,
/// idempotency key or registration id), in the subjects' order.
#[track_caller]
pub fn calls(stats: &serde_json::Value, operation: &str) -> Vec<(String, u64)> {
    let per_subject = stats["calls"][operation]
        .as_object()
        .unwrap_or_else(|| panic!("the sandbox counts no operation {operation:?}: {stats}"));
    per_subject
        .iter()
        .map(|(subject, n)| (subject.clone(), n.as_u64().expect("a count")))
        .collect()
}

/// How many calls each subject of `operation` got, without the subjects.
#[track_caller]
pub fn call_counts(stats: &serde_json::Value, operation: &str) -> Vec<u64> {
    calls(stats, operation)
        .into_iter()
        .map(|(_, n)| n)
        .collect()
}

/// Calls of `operation` the sandbox received, over all subjects.
#[track_caller]
pub fn total_calls(stats: &serde_json::Value, operation: &str) -> u64 {
    stats["totals"][operation]
        .as_u64()
        .unwrap_or_else(|| panic!("the sandbox counts no operation {operation:?}: {stats}"))
}
