//! Junk on every route. Generated requests (junk and oversized fields,
//! wrong, missing and repeated CSRF tokens, bytes that are not UTF-8, huge
//! and negative numbers, unknown methods and countries, bodies over the
//! limit, wrong content types, repeated keys, forged webhooks) go to every
//! route of the shop, one after another on one shopper's session. Each must
//! be answered below 500 without dropping the connection; a request that
//! is refused (4xx, or sent without the right CSRF token) must leave the
//! database as it was; and at the end a whole cash-on-delivery checkout
//! still works.
//!
//! The requests come from proptest strategies driven by a fixed seed, so a
//! run is repeatable. CI sends `KASSA_TEST_FUZZ_CASES` requests per backend
//! (default 1000). A longer run, with another seed each time:
//!
//!     KASSA_TEST_FUZZ_CASES=20000 KASSA_TEST_FUZZ_SEED=$RANDOM \
//!         cargo test --test api fuzz -- --nocapture
//!
//! A failure names the seed and the request number; run that seed again
//! with as many cases to see it again.

use crate::helpers::*;
use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use kassa::config::Settings;
use kassa::payment::hosted::return_link_text;
use kassa::payment::signature;
use kassa::store::DbConn;
use kassa::store::schema::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use reqwest::StatusCode;
use std::fmt;
use std::time::Instant;

const DEFAULT_CASES: usize = 1000;
const DEFAULT_SEED: u64 = 20_261_122;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// How a route takes its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// GET: the fields go into the query string.
    Query,
    /// POST with a CSRF-checked urlencoded form.
    Form,
    /// The provider's signed JSON.
    Webhook,
}

#[derive(Debug)]
struct Route {
    path: &'static str,
    input: Input,
    fields: &'static [&'static str],
}

const CHECKOUT_FIELDS: &[&str] = &[
    "email",
    "billing_first_name",
    "billing_last_name",
    "billing_company",
    "billing_street",
    "billing_house_number",
    "billing_postcode",
    "billing_city",
    "billing_country",
    "billing_phone",
    "delivery_same_as_billing",
    "delivery_first_name",
    "delivery_last_name",
    "delivery_company",
    "delivery_street",
    "delivery_house_number",
    "delivery_postcode",
    "delivery_city",
    "delivery_country",
    "delivery_phone",
    "shipping_method",
    "date_of_birth",
    "payment_method",
    "voucher_code",
    "accept_terms",
    "accept_privacy",
];

const fn route(path: &'static str, input: Input, fields: &'static [&'static str]) -> Route {
    Route {
        path,
        input,
        fields,
    }
}

/// Every route of the shop (src/web/*.rs and src/startup.rs), but the
/// back office's forms and the API's POSTs.
const ROUTES: &[Route] = &[
    route("/", Input::Query, &[]),
    route("/products/{id}", Input::Query, &[]),
    route("/cart", Input::Query, &[]),
    route("/cart/add", Input::Form, &["product_id", "quantity"]),
    route("/cart/update", Input::Form, &["product_id", "quantity"]),
    route("/cart/remove", Input::Form, &["product_id"]),
    route("/account/login", Input::Query, &["next"]),
    route(
        "/account/login",
        Input::Form,
        &["email", "password", "next"],
    ),
    route("/account/register", Input::Query, &["next"]),
    route(
        "/account/register",
        Input::Form,
        &["email", "password", "password_confirmation", "next"],
    ),
    route("/account/logout", Input::Form, &[]),
    route("/checkout/start", Input::Query, &[]),
    route("/checkout", Input::Query, &[]),
    route("/checkout", Input::Form, CHECKOUT_FIELDS),
    route("/checkout/review", Input::Query, &[]),
    route("/checkout/review", Input::Form, &["cart_version"]),
    route("/checkout/payment", Input::Query, &[]),
    route("/checkout/payment/cancel", Input::Form, &[]),
    route("/checkout/placeorder", Input::Query, &[]),
    route("/checkout/success", Input::Query, &["order", "token"]),
    route("/checkout/restore", Input::Form, &["order", "token"]),
    route("/checkout/expired", Input::Query, &[]),
    route(
        "/checkout/return",
        Input::Query,
        &["process", "sig", "cancelled"],
    ),
    route("/webhooks/hosted", Input::Webhook, &[]),
    route("/healthz", Input::Query, &[]),
    route("/readyz", Input::Query, &[]),
    route("/static/style.css", Input::Query, &[]),
    // The back office and the API answer strangers: a redirect to the
    // login page, the login page, 401. Their forms carry the staff
    // session's token, not the shopper's (tests/api/staff.rs).
    route("/admin", Input::Query, &[]),
    route("/admin/login", Input::Query, &["next"]),
    route(
        "/admin/orders",
        Input::Query,
        &["status", "payment", "delivery", "queue", "q", "page"],
    ),
    route("/admin/orders/K-000001", Input::Query, &["done"]),
    route("/api/v1/ping", Input::Query, &[]),
    route("/static/admin.css", Input::Query, &[]),
];

/// What a form carries for its CSRF token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Valid,
    Missing,
    Empty,
    Wrong,
    /// The valid token and a wrong one under the same name.
    Twice,
}

/// The `Kassa-Signature` a webhook carries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signature {
    Missing,
    Junk(String),
    /// Signed right, but ten minutes ago.
    Stale,
    /// Signed with another secret.
    Forged,
    /// Signed as the provider would: the body decides what happens.
    Valid,
}

/// Generated bytes, shown short in a failure message.
#[derive(Clone, PartialEq, Eq)]
struct Junk(Vec<u8>);

impl fmt::Debug for Junk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown(&self.0))
    }
}

/// A value placed into a field as generated, or filled in when sent.
#[derive(Clone, PartialEq, Eq)]
enum Value {
    Bytes(Vec<u8>),
    /// The newest place-order process's id.
    LatestProcess,
    /// The signature of the return link of the `process` field.
    ReturnSignature,
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "{}", shown(bytes)),
            Self::LatestProcess => f.write_str("<latest process>"),
            Self::ReturnSignature => f.write_str("<signature of the return link>"),
        }
    }
}

/// Bytes for a failure message: text cut short, or hex when not UTF-8.
fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().count() > 60 => format!(
            "{:?}… ({} bytes)",
            text.chars().take(60).collect::<String>(),
            bytes.len()
        ),
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("bytes {}", signature::hex(&bytes[..bytes.len().min(40)])),
    }
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Form {
        fields: Vec<(String, Value)>,
        token: Token,
        /// Padding that takes the body over the size limit.
        oversized: bool,
    },
    Raw(Junk),
}

#[derive(Debug, Clone)]
struct FuzzRequest {
    method: &'static str,
    /// Path and query, percent-encoded.
    target: String,
    /// The route's own input, or `None` when the request goes astray
    /// (another method).
    input: Option<Input>,
    content_type: Option<&'static str>,
    body: Body,
    signature: Option<Signature>,
}

impl FuzzRequest {
    /// Sent without the session's CSRF token to a route that checks it.
    fn lacks_token(&self) -> bool {
        matches!(
            (&self.input, &self.body),
            (Some(Input::Form), Body::Form { token, .. }) if *token != Token::Valid
        ) || matches!((&self.input, &self.body), (Some(Input::Form), Body::Raw(_)))
    }
}

/// Every byte but letters and digits as `%XX`: the bytes arrive as sent,
/// UTF-8 or not.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn numbers() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..120).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i128>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "-0",
            "+1",
            "1e9",
            "1.5",
            "NaN",
            "0x10",
            "١٢",
            " 2 ",
            "9223372036854775808",
            "-9223372036854775809",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Anything at all.
fn junk() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        "\\PC{0,30}".prop_map(String::into_bytes),
        any::<String>().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
        numbers().prop_map(String::into_bytes),
        (100usize..12_000).prop_map(|n| "x".repeat(n).into_bytes()),
        (10usize..600).prop_map(|n| "ä€👍🏽".repeat(n).into_bytes()),
        prop::sample::select(vec![
            "<script>alert(1)</script>",
            "'; DROP TABLE orders; --",
            "123 ÄB",
            "\0",
            "%00",
            "\u{202e}gnp.exe",
            "on",
            "null",
            "[]",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
    .boxed()
}

/// Values that mean something to `field`, right and wrong.
fn plausible(field: &str) -> Vec<&'static str> {
    match field {
        "product_id" => vec![
            "espresso-cup",
            "travel-mug",
            "hand-grinder",
            "milk-jug",
            "nope",
        ],
        "quantity" => vec!["1", "2", "3", "0", "99", "100", "-1"],
        "payment_method" => vec![
            "offline:cash_on_delivery",
            "offline:cash_in_advance",
            "hosted:card",
            "hosted:convenience_store",
            "offline:cheque",
            "hosted:",
            ":",
        ],
        "shipping_method" => vec!["standard", "express", "pickup", "teleport"],
        "billing_country" | "delivery_country" => vec!["DE", "NL", "SE", "de", "XX", "DEU"],
        "billing_postcode" | "delivery_postcode" => {
            vec!["10115", "1012 AB", "123 45", "123 ÄB", "1234Ä", "ABC"]
        }
        "delivery_same_as_billing" | "accept_terms" | "accept_privacy" | "cancelled" => {
            vec!["on", "", "1"]
        }
        "cart_version" => vec!["0", "1", "2", "3", "-1", "9223372036854775807"],
        "email" => vec![
            "ann@example.com",
            "bob@example.com",
            "ann@blocked.example",
            "not-an-email",
        ],
        "password" | "password_confirmation" => vec!["correct horse battery", "short", ""],
        "next" => vec![
            "/cart",
            "//evil.example",
            "/\t/evil",
            "https://evil.example",
            "/checkout",
        ],
        "voucher_code" => vec!["WELCOME10", "freeorder", "NOPE", ""],
        "date_of_birth" => vec!["1990-04-25", "2030-01-01", "1990-02-30", "25.04.1990"],
        "order" => vec!["K-000001", "K-000002", "K-"],
        _ => vec![],
    }
}

/// A value for `field`: one that means something to it, most of the time
/// (`junk_weight` in 10: anything at all, or a value filled in when sent).
fn field_value(field: &'static str, junk_weight: u32) -> BoxedStrategy<Value> {
    // A delivery field takes what its billing twin takes.
    let twin = field
        .strip_prefix("delivery_")
        .map(|rest| format!("billing_{rest}"));
    let valid_form = checkout_form();
    let mut known: Vec<String> = Vec::new();
    for name in [Some(field.to_owned()), twin].iter().flatten() {
        known.extend(plausible(name).into_iter().map(str::to_owned));
        known.extend(
            valid_form
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        );
    }
    let junk = match field {
        "process" => prop_oneof![Just(Value::LatestProcess), junk().prop_map(Value::Bytes)].boxed(),
        "sig" => prop_oneof![Just(Value::ReturnSignature), junk().prop_map(Value::Bytes)].boxed(),
        _ => junk().prop_map(Value::Bytes).boxed(),
    };
    if known.is_empty() {
        return junk;
    }
    let known = prop::sample::select(known).prop_map(|s| Value::Bytes(s.into_bytes()));
    prop_oneof![10 - junk_weight => known, junk_weight => junk].boxed()
}

/// The checkout form as a shopper fills it in, with up to three fields
/// changed or left out: often valid, so the later steps are reached.
fn checkout_fields() -> BoxedStrategy<Vec<(String, Value)>> {
    let change = prop::sample::select(CHECKOUT_FIELDS).prop_flat_map(|field| {
        prop::option::weighted(0.85, field_value(field, 4)).prop_map(move |v| (field, v))
    });
    // A country and a postcode change together: a postcode is read by the
    // rules of its country.
    let address = prop::option::weighted(
        0.5,
        (
            prop::sample::select(vec![
                "AT", "BE", "CH", "DE", "DK", "FR", "IT", "LU", "NL", "SE", "XX",
            ]),
            prop_oneof![
                1 => "[0-9]{3,5}",
                1 => "[0-9]{3} ?[0-9]{2}",
                1 => "[0-9]{4} ?[A-Za-z]{2}",
                // Letters of two and three bytes where a count of bytes
                // would cut them.
                3 => "[0-9]{1,4}[ÄÖÜéß€][A-Z]{1,3}",
                1 => junk().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ],
        ),
    );
    (prop::collection::vec(change, 0..=3), address)
        .prop_map(|(mut changes, address)| {
            let mut fields: Vec<(String, Value)> = checkout_form()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::Bytes(v.into_bytes())))
                .collect();
            if let Some((country, postcode)) = address {
                changes.push(("billing_country", Some(Value::Bytes(country.into()))));
                changes.push(("billing_postcode", Some(Value::Bytes(postcode.into()))));
            }
            for (field, value) in changes {
                fields.retain(|(k, _)| k != field);
                if let Some(value) = value {
                    fields.push((field.to_owned(), value));
                }
            }
            fields
        })
        .boxed()
}

/// The route's fields, some missing, some twice, some unknown ones added.
fn fields(route: &'static Route) -> BoxedStrategy<Vec<(String, Value)>> {
    let each: BoxedStrategy<Vec<(String, Value)>> = if route.path == "/checkout" {
        checkout_fields()
    } else {
        let each: Vec<BoxedStrategy<Option<(String, Value)>>> = route
            .fields
            .iter()
            .map(|&field| {
                prop::option::weighted(0.95, field_value(field, 3))
                    .prop_map(move |v| v.map(|v| (field.to_owned(), v)))
                    .boxed()
            })
            .collect();
        each.prop_map(|each| each.into_iter().flatten().collect())
            .boxed()
    };
    let extra = prop::collection::vec(
        (
            prop_oneof![9 => "[a-z_]{1,12}", 1 => Just("csrf_token".to_owned())],
            junk().prop_map(Value::Bytes),
        ),
        0..2,
    );
    let extra = prop::option::weighted(0.2, extra).prop_map(Option::unwrap_or_default);
    (
        each,
        extra,
        prop::bool::weighted(0.1),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut fields, extra, repeat, which)| {
            if repeat && !fields.is_empty() {
                let twice = fields[which.index(fields.len())].clone();
                fields.push(twice);
            }
            fields.extend(extra);
            fields
        })
        .boxed()
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        16 => Just(Token::Valid),
        1 => Just(Token::Missing),
        1 => Just(Token::Empty),
        1 => Just(Token::Wrong),
        1 => Just(Token::Twice),
    ]
}

fn form_content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        8 => Just(Some("application/x-www-form-urlencoded")),
        1 => prop::sample::select(vec![
            None,
            Some("application/json"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain; charset=latin1"),
            Some("application/x-www-form-urlencoded; charset=shift_jis"),
            Some("a/b;;;="),
        ]),
    ]
}

fn query(fields: &[(String, Value)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(k, v)| match v {
            // Filled in when sent.
            Value::LatestProcess => format!("{k}=@process"),
            Value::ReturnSignature => format!("{k}=@sig"),
            // Long enough to hurt, short enough for a request line.
            Value::Bytes(b) => format!("{k}={}", percent_encode(&b[..b.len().min(2_000)])),
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// A request for `route`, mostly as meant, sometimes astray.
fn request(route: &'static Route) -> BoxedStrategy<FuzzRequest> {
    let own = if route.input == Input::Query {
        "GET"
    } else {
        "POST"
    };
    let others: Vec<&'static str> = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        .into_iter()
        .filter(|m| *m != own)
        .collect();
    let astray = prop::option::weighted(0.05, prop::sample::select(others));
    match route.input {
        Input::Query => {
            let path = if route.path.contains("{id}") {
                prop_oneof![
                    3 => prop::sample::select(plausible("product_id"))
                        .prop_map(|id| format!("/products/{id}")),
                    2 => junk().prop_map(|b| format!("/products/{}", percent_encode(&b[..b.len().min(2_000)]))),
                ]
                .boxed()
            } else {
                Just(route.path.to_owned()).boxed()
            };
            (path, fields(route), astray)
                .prop_map(|(path, fields, astray)| FuzzRequest {
                    method: astray.unwrap_or("GET"),
                    target: format!("{path}{}", query(&fields)),
                    input: astray.is_none().then_some(Input::Query),
                    content_type: None,
                    body: Body::None,
                    signature: None,
                })
                .boxed()
        }
        Input::Form => {
            let body = prop_oneof![
                20 => (fields(route), token(), prop::bool::weighted(0.03)).prop_map(
                    |(fields, token, oversized)| Body::Form { fields, token, oversized }
                ),
                1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Body::Raw(Junk(b))),
            ];
            (body, form_content_type(), astray)
                .prop_map(|(body, content_type, astray)| FuzzRequest {
                    method: astray.unwrap_or("POST"),
                    target: route.path.to_owned(),
                    input: astray.is_none().then_some(Input::Form),
                    content_type,
                    body,
                    signature: None,
                })
                .boxed()
        }
        Input::Webhook => {
            let event = (
                prop_oneof!["evt_[a-z0-9]{1,12}".prop_map(String::into_bytes), junk()],
                prop::sample::select(vec![
                    "payment.succeeded",
                    "payment.failed",
                    "payment.canceled",
                    "payment.expired",
                    "refund",
                ]),
                prop_oneof!["ps_[a-z0-9]{1,12}", "\\PC{0,20}"],
            )
                .prop_map(|(id, kind, session)| {
                    serde_json::json!({
                        "id": String::from_utf8_lossy(&id),
                        "type": kind,
                        "session_id": session,
                    })
                    .to_string()
                    .into_bytes()
                });
            let body = prop_oneof![3 => event, 1 => junk()];
            let signature = prop_oneof![
                1 => Just(Signature::Missing),
                1 => "\\PC{0,80}".prop_map(Signature::Junk),
                2 => (
                    prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(-1)],
                    "([0-9a-f]{2}){1,32}",
                )
                    .prop_map(|(t, v)| Signature::Junk(format!("t={t},v1={v}"))),
                1 => Just(Signature::Stale),
                1 => Just(Signature::Forged),
                1 => Just(Signature::Valid),
            ];
            let content_type = prop::sample::select(vec![
                Some("application/json"),
                None,
                Some("application/x-www-form-urlencoded"),
            ]);
            (body, signature, content_type, astray)
                .prop_map(|(body, signature, content_type, astray)| FuzzRequest {
                    method: astray.unwrap_or("POST"),
                    target: "/webhooks/hosted".to_owned(),
                    input: astray.is_none().then_some(Input::Webhook),
                    content_type,
                    body: Body::Raw(Junk(body)),
                    signature: Some(signature),
                })
                .boxed()
        }
    }
}

/// Any route; the ones that fill the cart and move the checkout on come up
/// more often, so the later steps see carts with items.
fn any_request() -> BoxedStrategy<FuzzRequest> {
    let routes: Vec<(u32, BoxedStrategy<FuzzRequest>)> = ROUTES
        .iter()
        .map(|route| {
            let weight = match (route.path, route.input) {
                ("/cart/add" | "/checkout", Input::Form) => 32,
                ("/checkout/review", Input::Form) => 12,
                // A password is hashed on purpose slowly, even when the
                // account does not exist: fewer of these keep the run short.
                ("/account/login" | "/account/register", Input::Form) => 1,
                _ => 4,
            };
            (weight, request(route))
        })
        .collect();
    prop::strategy::Union::new_weighted(routes).boxed()
}

/// The shopper's session as the fuzzer knows it.
struct Shopper {
    app: TestApp,
    csrf: String,
}

impl Shopper {
    async fn refresh_token(&mut self) {
        self.csrf = self.app.csrf().await;
    }

    async fn latest_process(&self) -> String {
        self.app
            .shop
            .store()
            .latest_process()
            .await
            .expect("process query")
            .map(|p| p.id)
            .unwrap_or_else(|| "none".into())
    }

    /// Fills in the values that depend on the shop's state.
    async fn resolve_target(&self, target: &str) -> String {
        if !target.contains("=@process") && !target.contains("=@sig") {
            return target.to_owned();
        }
        let process = self.latest_process().await;
        let process_field = target
            .split(['?', '&'])
            .find_map(|pair| pair.strip_prefix("process="))
            .unwrap_or("")
            .replace("@process", &process);
        let cancelled = target.contains("cancelled=");
        // The signature of what arrives: the decoded process field.
        let decoded = percent_decode(&process_field);
        let sig = signature::digest(
            &self.app.shop.link_key,
            &return_link_text(&String::from_utf8_lossy(&decoded), cancelled),
        );
        target
            .replace("=@process", &format!("={process}"))
            .replace("=@sig", &format!("={sig}"))
    }

    fn form_body(&self, fields: &[(String, Value)], token: Token, oversized: bool) -> Vec<u8> {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Bytes(b) => percent_encode(b),
                    other => percent_encode(format!("{other:?}").as_bytes()),
                };
                format!("{}={value}", percent_encode(k.as_bytes()))
            })
            .collect();
        match token {
            Token::Valid => pairs.push(format!("csrf_token={}", self.csrf)),
            Token::Missing => {}
            Token::Empty => pairs.push("csrf_token=".into()),
            Token::Wrong => pairs.push(format!("csrf_token={}", "0".repeat(self.csrf.len()))),
            Token::Twice => {
                pairs.push(format!("csrf_token={}", self.csrf));
                pairs.push("csrf_token=forged".into());
            }
        }
        if oversized {
            pairs.push(format!("padding={}", "x".repeat(70 * 1024)));
        }
        pairs.join("&").into_bytes()
    }

    async fn send(&self, request: &FuzzRequest) -> reqwest::Result<reqwest::Response> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
        let target = self.resolve_target(&request.target).await;
        let mut builder = self.app.client.request(method, self.app.url(&target));
        if let Some(content_type) = request.content_type {
            builder = builder.header("Content-Type", content_type);
        }
        let body = match &request.body {
            Body::None => None,
            Body::Raw(Junk(bytes)) => Some(bytes.clone()),
            Body::Form {
                fields,
                token,
                oversized,
            } => Some(self.form_body(fields, *token, *oversized)),
        };
        if let Some(kind) = &request.signature {
            let secret = self.app.settings.webhook_secret();
            let signed = body.as_deref().unwrap_or_default();
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let header = match kind {
                Signature::Missing => None,
                Signature::Junk(text) => Some(text.clone()),
                Signature::Stale => Some(signature::sign(&secret, now - 600, signed)),
                Signature::Forged => Some(signature::sign("not the secret", now, signed)),
                Signature::Valid => Some(signature::sign(&secret, now, signed)),
            };
            if let Some(header) = header {
                builder = builder.header(signature::HEADER, header);
            }
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        builder.send().await
    }
}

/// The bytes the server reads from a percent-encoded query value.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Loads `$query` as rows of `$row` and prints them.
macro_rules! rows {
    ($c:expr, $query:expr, $row:ty) => {
        format!(
            "{:?}",
            $query.load::<$row>(&mut *$c).await.expect("snapshot query")
        )
    };
}

/// Every table a shopper's request could change, as text.
macro_rules! tables {
    ($c:expr) => {
        vec![
            (
                "products",
                rows!(
                    $c,
                    products::table
                        .select((
                            products::id,
                            products::stock,
                            products::active,
                            products::price_minor,
                            products::version,
                        ))
                        .order(products::id),
                    (String, i64, bool, i64, i64)
                ),
            ),
            (
                "carts",
                rows!(
                    $c,
                    carts::table
                        .select((
                            carts::id,
                            carts::user_id,
                            carts::status,
                            carts::checkout,
                            carts::order_id,
                            carts::version,
                            carts::updated_at,
                        ))
                        .order(carts::id),
                    (
                        String,
                        Option<String>,
                        String,
                        Option<String>,
                        Option<String>,
                        i64,
                        time::PrimitiveDateTime,
                    )
                ),
            ),
            (
                "cart_lines",
                rows!(
                    $c,
                    cart_lines::table
                        .select((
                            cart_lines::cart_id,
                            cart_lines::product_id,
                            cart_lines::quantity,
                            cart_lines::unit_price_minor,
                            cart_lines::added_at,
                        ))
                        .order((cart_lines::cart_id, cart_lines::product_id)),
                    (String, String, i64, i64, time::PrimitiveDateTime)
                ),
            ),
            (
                "orders",
                rows!(
                    $c,
                    orders::table
                        .select((
                            orders::id,
                            orders::number,
                            orders::status,
                            orders::total_minor,
                            orders::version,
                            orders::updated_at,
                        ))
                        .order(orders::id),
                    (String, String, String, i64, i64, time::PrimitiveDateTime)
                ),
            ),
            (
                "order_lines",
                rows!(
                    $c,
                    order_lines::table
                        .select((
                            order_lines::order_id,
                            order_lines::position,
                            order_lines::product_id,
                            order_lines::quantity,
                        ))
                        .order((order_lines::order_id, order_lines::position)),
                    (String, i64, String, i64)
                ),
            ),
            (
                "payments",
                rows!(
                    $c,
                    payments::table
                        .select((
                            payments::id,
                            payments::status,
                            payments::amount_minor,
                            payments::provider_reference,
                            payments::version,
                            payments::updated_at,
                        ))
                        .order(payments::id),
                    (
                        String,
                        String,
                        i64,
                        Option<String>,
                        i64,
                        time::PrimitiveDateTime,
                    )
                ),
            ),
            (
                "outbox",
                rows!(
                    $c,
                    outbox::table
                        .select((
                            outbox::id,
                            outbox::kind,
                            outbox::status,
                            outbox::attempts,
                            outbox::payload,
                            outbox::updated_at,
                        ))
                        .order(outbox::id),
                    (String, String, String, i64, String, time::PrimitiveDateTime)
                ),
            ),
            (
                "place_order_process",
                rows!(
                    $c,
                    place_order_process::table
                        .select((
                            place_order_process::id,
                            place_order_process::state,
                            place_order_process::is_final,
                            place_order_process::version,
                            place_order_process::updated_at,
                        ))
                        .order(place_order_process::id),
                    (String, String, bool, i64, time::PrimitiveDateTime)
                ),
            ),
            (
                "users",
                rows!(
                    $c,
                    users::table
                        .select((users::id, users::email))
                        .order(users::id),
                    (String, String)
                ),
            ),
            (
                "registrations",
                rows!(
                    $c,
                    registrations::table
                        .select((
                            registrations::cart_id,
                            registrations::status,
                            registrations::generation,
                        ))
                        .order(registrations::cart_id),
                    (String, String, i64)
                ),
            ),
            (
                "webhook_events",
                rows!(
                    $c,
                    webhook_events::table
                        .select(webhook_events::event_id)
                        .order(webhook_events::event_id),
                    String
                ),
            ),
            (
                "counters",
                rows!(
                    $c,
                    counters::table
                        .select((counters::name, counters::value))
                        .order(counters::name),
                    (String, i64)
                ),
            ),
        ]
    };
}

type Snapshot = Vec<(&'static str, String)>;

async fn snapshot(app: &TestApp) -> Snapshot {
    match app.shop.store().conn().await.expect("a connection") {
        DbConn::Sqlite(mut conn) => {
            let c = &mut *conn;
            tables!(c)
        }
        DbConn::Pg(mut conn) => {
            let c = &mut *conn;
            tables!(c)
        }
    }
}

/// The tables that differ.
fn changed(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b != a)
        .map(|((table, b), (_, a))| format!("{table}: {b} -> {a}"))
        .collect()
}

/// The hosted provider's sandbox runs beside the shop, so its payment
/// methods are real choices; the background workers wait, so whatever
/// changes in the database was done by the request just sent.
fn quiet_shop_with_provider(settings: &mut Settings) {
    settings.payment.hosted.enabled = true;
    settings.sandbox.serve_beside_shop = true;
    settings.sandbox.bind = "127.0.0.1:0".into();
    settings.outbox.poll_ms = 3_600_000;
    settings.placeorder.sweep_interval_ms = 3_600_000;
}

async fn every_route_answers_junk_and_refusals_change_nothing(backend: Backend) {
    let cases = env_number("KASSA_TEST_FUZZ_CASES", DEFAULT_CASES as u64) as usize;
    let seed = env_number("KASSA_TEST_FUZZ_SEED", DEFAULT_SEED);
    let app = spawn_app_with(backend, quiet_shop_with_provider).await;
    app.add_to_cart("espresso-cup", 2).await;
    let mut shopper = Shopper {
        csrf: app.csrf().await,
        app,
    };
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let requests = any_request();
    let started = Instant::now();
    let mut before = snapshot(&shopper.app).await;
    let mut refused = 0;
    for case in 1..=cases {
        let request = requests.new_tree(&mut runner).expect("a request").current();
        let at = || format!("(seed {seed}, request {case}) {request:?}");
        let response = shopper
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("the connection dropped: {e} {}", at()));
        let status = response.status();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("the answer broke off: {e} {}", at()));
        assert!(
            !status.is_server_error(),
            "{status} {} {}",
            shown(&body),
            at()
        );
        if request.lacks_token() {
            assert!(
                status.is_client_error(),
                "{status} without a token {}",
                at()
            );
        } else if request.input == Some(Input::Form) {
            assert_ne!(
                status,
                StatusCode::FORBIDDEN,
                "a valid token refused {}",
                at()
            );
        }
        if status.is_client_error() && request.input != Some(Input::Webhook) {
            assert!(!body.is_empty(), "{status} without a message {}", at());
        }
        let after = snapshot(&shopper.app).await;
        if status.is_client_error() || request.lacks_token() {
            refused += 1;
            let changes = changed(&before, &after);
            assert!(
                changes.is_empty(),
                "a refused request ({status}) changed {changes:#?} {}",
                at()
            );
        }
        before = after;
        // Logging in or out renews the session and its token.
        if request.target.starts_with("/account/") && status == StatusCode::SEE_OTHER {
            shopper.refresh_token().await;
        }
    }
    eprintln!(
        "fuzz ({backend:?}): {cases} requests, {refused} refused, in {:.1?}",
        started.elapsed()
    );

    // The shopper's session still works, and a new shopper buys.
    assert_eq!(shopper.app.get("/cart").await.status(), StatusCode::OK);
    let buyer = shopper.app.with_client(&client());
    let products = buyer.shop.store().list_products().await.expect("products");
    let product = products
        .iter()
        .find(|p| p.stock > 0)
        .expect("a product in stock");
    assert_redirect(&buyer.add_to_cart(&product.id, 1).await, "/cart");
    let success = buyer.buy(&checkout_form()).await;
    assert_eq!(buyer.get(&success).await.status(), StatusCode::OK);
}

on_both_backends!(every_route_answers_junk_and_refusals_change_nothing);
