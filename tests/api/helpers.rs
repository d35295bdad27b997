//! Starting a shop and acting like a shopper.

use kassa::application::Shop;
use kassa::config::Settings;
use kassa::startup::Application;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::sync::Arc;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub shop: Shop,
    pub client: reqwest::Client,
    pub _data: Arc<TempDir>,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A shop on a fresh SQLite file with the demo data, settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data = TempDir::new().expect("temp dir");
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let shop = app.shop().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        shop,
        client: client(),
        _data: Arc::new(data),
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

    pub async fn confirm_review(&self) -> reqwest::Response {
        self.post("/checkout/review", &[]).await
    }

    /// From a filled cart to the success page with the default flags;
    /// returns the success URL.
    pub async fn buy(&self, form: &[(&str, String)]) -> String {
        assert_redirect(&self.submit_checkout(form).await, "/checkout/review");
        assert_redirect(&self.confirm_review().await, "/checkout/payment");
        assert_redirect(&self.get("/checkout/payment").await, "/checkout/placeorder");
        let placed = self.get("/checkout/placeorder").await;
        assert_eq!(placed.status(), StatusCode::SEE_OTHER);
        let success = location(&placed);
        assert!(
            success.starts_with("/checkout/success?order=K-"),
            "{success}"
        );
        success
    }

    pub async fn order_count(&self) -> i64 {
        self.shop.store.count_orders().await.expect("count orders")
    }

    pub async fn stock_of(&self, product: &str) -> i64 {
        self.shop
            .store
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
