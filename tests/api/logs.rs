//! The node's log, read from a real `kassa` process: one JSON object per
//! line with `log.format = "json"`, no terminal colours in a pipe, each
//! request's id on the lines written while it was served and in its
//! response, and not one secret (webhook secret, passwords, tokens,
//! cookies, the session key, an API key) in the log of whole flows.

use crate::crash_matrix::{free_port, idle_view, wait_until_up};
use crate::helpers::*;
use crate::hosted::choose;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

on_both_backends!(whole_flows_log_json_lines_with_request_ids_and_no_secret);

const WEBHOOK_SECRET: &str = "whsec_kept_out_of_the_log_3f9a";
const PASSWORD: &str = "a password never logged";

/// A node process logging to a file.
pub(crate) struct Node {
    pub(crate) child: Child,
    log: PathBuf,
}

impl Node {
    fn start(resources: &Resources, port: u16, format: &str) -> Node {
        let data_dir = resources.data_dir.path();
        let log = data_dir.join(format!("node-{format}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_kassa"));
        command
            .current_dir(data_dir)
            .env("KASSA_BIND", format!("127.0.0.1:{port}"))
            .env("KASSA_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("KASSA_DATA_DIR", data_dir)
            .env("KASSA_SANDBOX__BIND", format!("127.0.0.1:{}", free_port()))
            .env("KASSA_PAYMENT__HOSTED__WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("KASSA_LOG__FORMAT", format)
            .env("RUST_LOG", "info,kassa=debug")
            .env_remove("FAILPOINTS")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        if let Some(db) = &resources.database {
            command.env("KASSA_DATABASE__URL", &db.url);
        }
        Node {
            child: command.spawn().expect("the node starts"),
            log,
        }
    }

    /// Everything the node wrote so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Everything the node wrote, once it has stopped.
    pub(crate) fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shopper's client on the node process (the shop in hand only reads).
pub(crate) async fn shop_and_node(backend: Backend, format: &str) -> (TestApp, Node) {
    let resources = Arc::new(fresh_resources(backend).await);
    let port = free_port();
    // The view migrates and seeds first, so the node starts on a ready database.
    let app = idle_view(node_settings(&resources), resources.clone(), "", port).await;
    let node = Node::start(&resources, port, format);
    wait_until_up(&app.url("/healthz")).await;
    (app, node)
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next()?.split_once('='))
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The link's token in the newest mail file that has one.
fn reset_token(data_dir: &Path) -> String {
    let mut found = None;
    for entry in std::fs::read_dir(data_dir.join("mail")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let text = text.replace("=\r\n", "").replace("=3D", "=");
        if let Some((_, rest)) = text.split_once("/account/password/reset?token=") {
            let token: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            found = Some(token);
        }
    }
    found.expect("a mail with a reset link")
}

async fn whole_flows_log_json_lines_with_request_ids_and_no_secret(backend: Backend) {
    let (app, node) = shop_and_node(backend, "json").await;
    let mut secrets = vec![
        WEBHOOK_SECRET.to_owned(),
        PASSWORD.to_owned(),
        kassa::store::seed::DEMO_STAFF_PASSWORD.to_owned(),
    ];

    // An account: a password and a renewed session.
    let csrf = app.csrf().await;
    secrets.push(csrf.clone());
    let registered = app
        .post(
            "/account/register",
            &[
                ("email", "logged@example.com".into()),
                ("password", PASSWORD.into()),
                ("password_confirmation", PASSWORD.into()),
            ],
        )
        .await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    secrets.extend(set_cookies(&registered));

    // A card payment at the sandbox: signed calls and webhooks.
    app.add_to_cart("hand-grinder", 1).await;
    let form = with(checkout_form(), "payment_method", "hosted:card");
    let form = with(form, "email", "logged@example.com");
    assert_redirect(&app.submit_checkout(&form).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    assert!(pay_url.contains("/pay/ps_"), "{pay_url}");
    let back = choose(&app, &pay_url, "card").await;
    let returned = app.client.get(location(&back)).send().await.unwrap();
    let success = location(&returned);
    assert!(
        success.starts_with("/checkout/success?order=K-"),
        "{success}"
    );
    assert_eq!(app.get(&success).await.status(), StatusCode::OK);
    let order = app.order(&order_number(&success)).await;
    secrets.push(order.token.clone());

    // The back office, with the demo staff password.
    let staff = app.with_client(&client());
    let staff_csrf = csrf_token(&staff.get_html("/admin/login").await);
    let logged_in = staff
        .client
        .post(staff.url("/admin/login"))
        .form(&[
            ("csrf_token", staff_csrf.as_str()),
            ("email", kassa::store::seed::DEMO_STAFF_EMAIL),
            ("password", kassa::store::seed::DEMO_STAFF_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    secrets.extend(set_cookies(&logged_in));

    // A reset link: its token travels in the query string.
    let stranger = app.with_client(&client());
    let asked = stranger
        .post(
            "/account/password/forgot",
            &[("email", "logged@example.com".into())],
        )
        .await;
    assert!(asked.status().is_success() || asked.status().is_redirection());
    let data_dir = app.settings.data_dir.clone();
    let mut token = None;
    for _ in 0..100 {
        if std::fs::read_dir(data_dir.join("mail")).is_ok_and(|mut d| {
            d.any(|f| {
                std::fs::read_to_string(f.unwrap().path()).is_ok_and(|t| t.contains("reset?token="))
            })
        }) {
            token = Some(reset_token(&data_dir));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = token.expect("the reset mail was written");
    let opened = stranger
        .get(&format!("/account/password/reset?token={token}"))
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
    secrets.push(token);
    secrets.push(hex(&std::fs::read(data_dir.join("session.key")).unwrap()));

    // An API key made by the admin command and used on the orders API.
    let mut make_key = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"));
    make_key
        .args(["admin", "api-key", "warehouse"])
        .current_dir(&data_dir)
        .env("KASSA_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("FAILPOINTS");
    if !app.settings.database.url.is_empty() {
        make_key.env("KASSA_DATABASE__URL", &app.settings.database.url);
    }
    let made = make_key.output().unwrap();
    assert!(made.status.success(), "{made:?}");
    let api_key = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let listed = app
        .client
        .get(app.url("/api/v1/orders"))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    secrets.push(api_key);

    // A request that brings its own id, and one whose id is refused.
    let traced = app
        .client
        .get(app.url("/no-such-page"))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.status(), StatusCode::NOT_FOUND);
    assert_eq!(traced.headers()["x-request-id"], "trace-me-42");
    assert!(
        traced.text().await.unwrap().contains("trace-me-42"),
        "the error page shows the code to quote"
    );
    let forged = app
        .client
        .get(app.url("/"))
        .header("X-Request-Id", "evil\" injected=1")
        .send()
        .await
        .unwrap();
    let given = forged.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        given.len() == 16 && given.bytes().all(|b| b.is_ascii_hexdigit()),
        "{given}"
    );

    // Background work (registration, mails, webhooks) logs too.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = node.stop();

    assert!(
        !log.contains('\u{1b}'),
        "no terminal escape codes in a pipe"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    let served: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["message"] == "served").collect();
    assert!(
        served.len() > 20,
        "an access line per request: {}",
        served.len()
    );
    for line in &served {
        let id = line["span"]["request_id"].as_str().unwrap_or_default();
        assert!(
            !id.is_empty(),
            "an access line without the request's id: {line}"
        );
    }
    assert!(
        served
            .iter()
            .any(|l| l["span"]["request_id"] == "trace-me-42" && l["status"] == 404),
        "the incoming id is in its request's log line"
    );
    assert!(
        served
            .iter()
            .any(|l| l["span"]["request_id"] == given.as_str()),
        "the id given instead of a refused one is logged"
    );
    assert!(
        served.iter().any(|l| l["route"] == "/checkout/success"),
        "routes are logged by their pattern"
    );
    for secret in &secrets {
        assert!(secret.len() >= 8, "a secret worth looking for: {secret}");
        assert!(
            !log.contains(secret.as_str()),
            "the log holds a secret: {secret}"
        );
    }
}

#[tokio::test]
async fn the_text_log_in_a_pipe_has_no_colour_codes_and_carries_the_request_id() {
    let (app, node) = shop_and_node(Backend::Sqlite, "text").await;
    let response = app.get("/").await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let log = node.stop();
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(
        log.lines()
            .any(|line| line.contains(&format!("request_id={id}")) && line.contains("served")),
        "{log}"
    );
}
