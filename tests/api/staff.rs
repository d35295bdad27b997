//! The back office's access layer: staff accounts and logins at /admin
//! (sessions, limits, CSRF), API keys and idempotent POSTs at /api/v1,
//! and the `kassa admin` commands.

use crate::helpers::*;
use kassa::application::idempotency::ApiRequest;
use kassa::application::{api, staff};
use kassa::domain::idempotency::{ABANDONED_AFTER, KEPT_FOR};
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{SET_COOKIE, WWW_AUTHENTICATE};
use std::sync::Arc;
use std::time::Duration;

const BOSS: &str = "boss@example.com";
const BOSS_PASSWORD: &str = "a long staff password";
const REFUSED: &str = "The email address or the password is not correct.";
const LIMITED: &str = "Too many failed logins.";

/// A browser whose cookies the test can read and plant.
fn browser(jar: &Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `app` talked to by a browser with a jar of its own.
fn staff_browser(app: &TestApp) -> (TestApp, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    (app.with_client(&browser(&jar)), jar)
}

/// The value of the cookie `name` the browser sends to /admin.
fn cookie(app: &TestApp, jar: &Jar, name: &str) -> Option<String> {
    let url: reqwest::Url = app.url("/admin").parse().unwrap();
    let header = jar.cookies(&url)?;
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

fn plant(app: &TestApp, jar: &Jar, name: &str, value: &str) {
    let url: reqwest::Url = app.url("/admin").parse().unwrap();
    jar.add_cookie_str(&format!("{name}={value}; Path=/admin"), &url);
}

async fn add_staff(app: &TestApp, email: &str, password: &str) {
    staff::add_staff(app.shop.store(), email, password)
        .await
        .unwrap()
        .expect("the account is created");
}

/// A shop with the staff member BOSS.
async fn shop_with_boss(
    backend: Backend,
    adjust: impl FnOnce(&mut kassa::config::Settings),
) -> TestApp {
    let app = spawn_app_with(backend, adjust).await;
    add_staff(&app, BOSS, BOSS_PASSWORD).await;
    app
}

/// Sends the login form (with the token of a fresh login page).
async fn log_in(app: &TestApp, email: &str, password: &str, next: &str) -> reqwest::Response {
    let page = app.get("/admin/login").await;
    assert_eq!(page.status(), StatusCode::OK, "the login page shows");
    let token = csrf_token(&page.text().await.unwrap());
    app.client
        .post(app.url("/admin/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .expect("POST /admin/login")
}

async fn log_out(app: &TestApp, csrf: Option<&str>) -> reqwest::Response {
    let form: Vec<(&str, &str)> = csrf.map(|t| ("csrf_token", t)).into_iter().collect();
    app.client
        .post(app.url("/admin/logout"))
        .form(&form)
        .send()
        .await
        .expect("POST /admin/logout")
}

#[track_caller]
fn assert_to_login(response: &reqwest::Response, next: &str) {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap();
    assert_redirect(response, &format!("/admin/login?{query}"));
}

async fn strangers_are_sent_to_the_login_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let (stranger, jar) = staff_browser(&app);
    assert_to_login(&stranger.get("/admin").await, "/admin");
    assert_to_login(&stranger.get("/admin?tab=today").await, "/admin?tab=today");

    // A made-up session id is no session, and the browser is told to drop it.
    plant(&stranger, &jar, "kassa_staff", "made-up");
    let refused = stranger.get("/admin").await;
    assert_to_login(&refused, "/admin");
    let cleared = refused
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("kassa_staff=;"));
    assert!(cleared, "the stale cookie is removed");

    // The login page only goes on to paths of the back office.
    for elsewhere in ["//evil.example/admin", "/cart", "https://evil.example/"] {
        let query = serde_urlencoded::to_string([("next", elsewhere)]).unwrap();
        let page = stranger.get_html(&format!("/admin/login?{query}")).await;
        assert!(
            page.contains("name=\"next\" value=\"/admin\""),
            "{elsewhere}: {page}"
        );
    }
    // A shopper's login is no staff login.
    let shopper = app.with_client(&client());
    shopper
        .post(
            "/account/register",
            &[
                ("email", BOSS.into()),
                ("password", BOSS_PASSWORD.into()),
                ("password_confirmation", BOSS_PASSWORD.into()),
            ],
        )
        .await;
    assert_to_login(&shopper.get("/admin").await, "/admin");
    assert_eq!(
        log_in(&shopper, BOSS, BOSS_PASSWORD, "/admin")
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a shopper account does not open the back office"
    );
}

async fn a_login_makes_a_new_session_and_logout_ends_it(backend: Backend) {
    let app = shop_with_boss(backend, |_| {}).await;
    let (boss, jar) = staff_browser(&app);
    plant(&boss, &jar, "kassa_staff", "planted-by-someone");

    let login = log_in(
        &boss,
        " Boss@Example.com ",
        BOSS_PASSWORD,
        "/admin?tab=today",
    )
    .await;
    assert_redirect(&login, "/admin?tab=today");
    let set = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kassa_staff="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let first = cookie(&boss, &jar, "kassa_staff").unwrap();
    assert_ne!(first, "planted-by-someone", "the login made a new id");

    let dashboard = boss.get("/admin").await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let page = dashboard.text().await.unwrap();
    assert!(page.contains("<h1>Dashboard</h1>"), "{page}");
    assert!(
        page.contains("data-testid=\"staff\">boss@example.com<"),
        "{page}"
    );
    assert!(page.contains("href=\"/admin/orders\""), "{page}");
    assert!(page.contains(&app.settings.shop.name), "{page}");
    // A signed-in member skips the login page.
    assert_redirect(&boss.get("/admin/login?next=%2Fadmin").await, "/admin");

    let token = csrf_token(&page);
    assert_redirect(&log_out(&boss, Some(&token)).await, "/admin/login");
    assert_to_login(&boss.get("/admin").await, "/admin");
    // A copy of the old cookie opens nothing: the session is gone.
    plant(&boss, &jar, "kassa_staff", &first);
    assert_to_login(&boss.get("/admin").await, "/admin");

    assert_redirect(&log_in(&boss, BOSS, BOSS_PASSWORD, "").await, "/admin");
    let second = cookie(&boss, &jar, "kassa_staff").unwrap();
    assert_ne!(second, first, "every login makes a new id");
    assert_eq!(boss.get("/admin").await.status(), StatusCode::OK);
}

async fn the_cookie_is_secure_when_the_shop_is_served_over_https(backend: Backend) {
    let app = shop_with_boss(backend, |s| {
        s.public_url = "https://shop.example".into();
    })
    .await;
    let login = log_in(&app, BOSS, BOSS_PASSWORD, "").await;
    let secure = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap())
        .filter(|c| c.starts_with("kassa_staff="))
        .all(|c| c.contains("; Secure"));
    assert!(secure, "{:?}", login.headers());
}

async fn a_wrong_password_and_an_unknown_email_read_the_same(backend: Backend) {
    let app = shop_with_boss(backend, |_| {}).await;
    for (email, password) in [
        (BOSS, "not the password"),
        ("nobody@example.com", BOSS_PASSWORD),
    ] {
        let refused = log_in(&app, email, password, "/admin").await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email}"
        );
        let page = refused.text().await.unwrap();
        assert!(page.contains(REFUSED), "{page}");
        assert!(
            page.contains(&format!("value=\"{email}\"")),
            "the email is kept"
        );
    }
    assert_to_login(&app.get("/admin").await, "/admin");
}

async fn logins_are_limited_per_account_on_every_node(backend: Backend) {
    let app = shop_with_boss(backend, |s| {
        s.admin.max_failed_logins_per_account = 2;
    })
    .await;
    add_staff(&app, "clerk@example.com", "the clerk's password").await;
    for _ in 0..2 {
        let refused = log_in(&app, BOSS, "not the password", "").await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = log_in(&app, BOSS, BOSS_PASSWORD, "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = limited.text().await.unwrap();
    assert!(page.contains(LIMITED), "{page}");
    assert!(!page.contains(REFUSED), "{page}");
    assert_to_login(&app.get("/admin").await, "/admin");

    // The count is in the database: another node refuses too.
    let other = app.another_node().await;
    let limited = log_in(&other, BOSS, BOSS_PASSWORD, "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);

    // Another account is not limited...
    assert_redirect(
        &log_in(&app, "clerk@example.com", "the clerk's password", "").await,
        "/admin",
    );
    // ...and an unknown email is limited alike: a limit tells nothing
    // about whether an account exists.
    for _ in 0..2 {
        let refused = log_in(&other, "ghost@example.com", "any password", "").await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = log_in(&other, "ghost@example.com", "any password", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().await.unwrap().contains(LIMITED));
}

async fn logins_are_limited_per_address(backend: Backend) {
    let app = shop_with_boss(backend, |s| {
        s.admin.max_failed_logins_per_ip = 3;
    })
    .await;
    for n in 0..3 {
        let refused = log_in(&app, &format!("guess{n}@example.com"), "guess", "").await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = log_in(&app, BOSS, BOSS_PASSWORD, "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().await.unwrap().contains(LIMITED));
    assert_to_login(&app.get("/admin").await, "/admin");
}

async fn an_idle_session_expires(backend: Backend) {
    let app = shop_with_boss(backend, |s| s.admin.session_idle_minutes = 30).await;
    assert_redirect(&log_in(&app, BOSS, BOSS_PASSWORD, "").await, "/admin");
    let store = app.shop.store();
    // Activity keeps the session: 20 idle minutes, a click, 20 more.
    store
        .age_staff_sessions(Duration::from_secs(20 * 60))
        .await
        .unwrap();
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    store
        .age_staff_sessions(Duration::from_secs(20 * 60))
        .await
        .unwrap();
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    // 31 minutes without a click end it, and the row goes.
    store
        .age_staff_sessions(Duration::from_secs(31 * 60))
        .await
        .unwrap();
    assert_to_login(&app.get("/admin").await, "/admin");
    assert_eq!(store.count_staff_sessions().await.unwrap(), 0);
}

async fn a_new_password_or_removal_ends_the_members_sessions(backend: Backend) {
    const NEW_PASSWORD: &str = "the boss's new password";
    let app = shop_with_boss(backend, |_| {}).await;
    let store = app.shop.store();
    let (boss, jar) = staff_browser(&app);
    assert_redirect(&log_in(&boss, BOSS, BOSS_PASSWORD, "").await, "/admin");
    let session = cookie(&boss, &jar, "kassa_staff").unwrap();
    assert_eq!(boss.get("/admin").await.status(), StatusCode::OK);

    let refused = staff::set_staff_password(store, "nobody@example.com", NEW_PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        refused,
        Err("there is no staff account for nobody@example.com".into())
    );
    let short = staff::set_staff_password(store, BOSS, "short")
        .await
        .unwrap();
    assert!(short.is_err_and(|problem| problem.contains("too short")));
    assert_eq!(
        boss.get("/admin").await.status(),
        StatusCode::OK,
        "unchanged"
    );

    let before = store.staff_by_email(BOSS).await.unwrap().unwrap();
    let set = staff::set_staff_password(store, " Boss@Example.com ", NEW_PASSWORD)
        .await
        .unwrap();
    assert_eq!(set, Ok(BOSS.to_owned()));
    assert_to_login(&boss.get("/admin").await, "/admin");
    assert_eq!(store.count_staff_sessions().await.unwrap(), 0);
    // A login whose password was checked against the old hash while it
    // changed starts no session.
    let late = store
        .start_staff_session(
            "late-login",
            &before.id,
            &before.password_hash,
            "token",
            None,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert!(!late);
    assert_eq!(store.count_staff_sessions().await.unwrap(), 0);
    plant(&boss, &jar, "kassa_staff", &session);
    assert_to_login(&boss.get("/admin").await, "/admin");
    let old = log_in(&boss, BOSS, BOSS_PASSWORD, "").await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_redirect(&log_in(&boss, BOSS, NEW_PASSWORD, "").await, "/admin");
    assert_eq!(boss.get("/admin").await.status(), StatusCode::OK);

    assert_eq!(
        staff::remove_staff(store, BOSS).await.unwrap(),
        Ok(BOSS.into())
    );
    assert_to_login(&boss.get("/admin").await, "/admin");
    let gone = log_in(&boss, BOSS, NEW_PASSWORD, "").await;
    assert_eq!(gone.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(store.count_staff_sessions().await.unwrap(), 0);
    assert_eq!(
        staff::remove_staff(store, BOSS).await.unwrap(),
        Err(format!("there is no staff account for {BOSS}"))
    );
}

async fn admin_forms_need_the_staff_sessions_csrf_token(backend: Backend) {
    let app = shop_with_boss(backend, |_| {}).await;
    // The login form without its token, or with a token of another browser.
    let no_token = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("email", BOSS), ("password", BOSS_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let elsewhere = app.with_client(&client());
    let foreign = csrf_token(&elsewhere.get_html("/admin/login").await);
    app.get("/admin/login").await;
    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .form(&[
            ("csrf_token", foreign.as_str()),
            ("email", BOSS),
            ("password", BOSS_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_to_login(&app.get("/admin").await, "/admin");

    assert_redirect(&log_in(&app, BOSS, BOSS_PASSWORD, "").await, "/admin");
    assert_eq!(log_out(&app, None).await.status(), StatusCode::FORBIDDEN);
    let shoppers_token = app.csrf().await;
    assert_eq!(
        log_out(&app, Some(&shoppers_token)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin").await.status(),
        StatusCode::OK,
        "still signed in"
    );
    // A stranger's POST goes to the login page, not through.
    let stranger = app.with_client(&client());
    assert_to_login(&log_out(&stranger, Some("anything")).await, "/admin");
}

async fn the_demo_staff_account_comes_with_demo_data_only(backend: Backend) {
    let demo = spawn_app_with(backend, |s| s.shop.demo_data = true).await;
    assert_redirect(
        &log_in(&demo, "admin@kassa.example", "kassa-demo", "").await,
        "/admin",
    );
    let plain = spawn_app_with(backend, |s| s.shop.demo_data = false).await;
    let refused = log_in(&plain, "admin@kassa.example", "kassa-demo", "").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A shop with staff of its own never gets it, demo data or not.
    let resources = Arc::new(fresh_resources(backend).await);
    let mut settings = node_settings(&resources);
    settings.shop.demo_data = false;
    let own = start_node(settings.clone(), resources.clone()).await;
    add_staff(&own, BOSS, BOSS_PASSWORD).await;
    own.handle.stop(true).await;
    settings.shop.demo_data = true;
    let restarted = start_node(settings, resources).await;
    let refused = log_in(&restarted, "admin@kassa.example", "kassa-demo", "").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

// The API.

async fn new_key(app: &TestApp, name: &str) -> String {
    api::create_key(app.shop.store(), name)
        .await
        .unwrap()
        .expect("the key is made")
}

async fn ping(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/v1/ping"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("GET /api/v1/ping")
}

#[track_caller]
fn assert_unauthorized(response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("a challenge");
    assert!(
        challenge.to_str().unwrap().starts_with("Bearer"),
        "{challenge:?}"
    );
}

async fn error_of(response: reqwest::Response) -> String {
    let json: serde_json::Value = response.json().await.expect("a JSON error");
    json["error"].as_str().expect("an error message").to_owned()
}

async fn api_keys_open_the_api_until_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = new_key(&app, "warehouse").await;
    assert!(key.starts_with("kassa_live_"), "{key}");

    let missing = ping(&app, None).await;
    assert_unauthorized(&missing);
    assert!(error_of(missing).await.contains("API key"));
    for wrong in [
        "Bearer kassa_live_0000".to_owned(),
        format!("Basic {key}"),
        "Bearer ".to_owned(),
    ] {
        let refused = ping(&app, Some(&wrong)).await;
        assert_unauthorized(&refused);
        assert!(!error_of(refused).await.is_empty());
    }

    let ok = ping(&app, Some(&format!("Bearer {key}"))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let json: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(json, serde_json::json!({ "caller": "warehouse" }));

    // One live key per name; a revoked name can be used again.
    let taken = api::create_key(app.shop.store(), "warehouse")
        .await
        .unwrap();
    assert!(taken.unwrap_err().contains("warehouse"));
    assert!(
        api::revoke_key(app.shop.store(), "warehouse")
            .await
            .unwrap()
    );
    assert_unauthorized(&ping(&app, Some(&format!("Bearer {key}"))).await);
    assert!(
        !api::revoke_key(app.shop.store(), "warehouse")
            .await
            .unwrap()
    );
    let renewed = new_key(&app, "warehouse").await;
    assert_ne!(renewed, key);
    assert_eq!(
        ping(&app, Some(&format!("Bearer {renewed}")))
            .await
            .status(),
        StatusCode::OK
    );
    let listed = api::list_keys(app.shop.store()).await.unwrap();
    let states: Vec<(String, bool)> = listed
        .iter()
        .map(|k| (k.name.clone(), k.revoked.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            ("warehouse".to_owned(), true),
            ("warehouse".to_owned(), false)
        ]
    );

    let unknown = app
        .client
        .get(app.url("/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(!error_of(unknown).await.is_empty());
}

async fn echo(
    app: &TestApp,
    key: &str,
    idempotency_key: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/echo"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(idempotency_key) = idempotency_key {
        request = request.header("Idempotency-Key", idempotency_key);
    }
    request.send().await.expect("POST /api/v1/echo")
}

fn replayed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("Idempotent-Replayed")
        .and_then(|v| v.to_str().ok())
        == Some("true")
}

async fn echo_runs_once_per_idempotency_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = new_key(&app, "warehouse").await;

    let no_key = echo(&app, &key, None, "{}").await;
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(no_key).await.contains("Idempotency-Key"));
    // Who asks comes first: no key, no word about the header.
    assert_unauthorized(&echo(&app, "kassa_live_wrong", None, "{}").await);

    let first = echo(&app, &key, Some("order-17"), r#"{"order":17}"#).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(!replayed(&first));
    let first = first.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(json["caller"], "warehouse");
    assert_eq!(json["received"], serde_json::json!({ "order": 17 }));
    let echo_id = json["echo_id"].as_str().unwrap().to_owned();

    // The repeat gets the stored answer: the same bytes, the same echo_id,
    // so the echo did not run again.
    let repeat = echo(&app, &key, Some("order-17"), r#"{"order":17}"#).await;
    assert_eq!(repeat.status(), StatusCode::OK);
    assert!(replayed(&repeat));
    assert_eq!(repeat.text().await.unwrap(), first);

    let other_body = echo(&app, &key, Some("order-17"), r#"{"order":18}"#).await;
    assert_eq!(other_body.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(other_body).await.contains("Idempotency-Key"));

    let new_key_new_run = echo(&app, &key, Some("order-18"), r#"{"order":17}"#).await;
    let json: serde_json::Value = new_key_new_run.json().await.unwrap();
    assert_ne!(json["echo_id"].as_str().unwrap(), echo_id);

    // Keys are per caller: another integrator's "order-17" is its own.
    let carrier = new_key(&app, "carrier").await;
    let theirs = echo(&app, &carrier, Some("order-17"), r#"{"order":17}"#).await;
    assert!(!replayed(&theirs));
    let json: serde_json::Value = theirs.json().await.unwrap();
    assert_eq!(json["caller"], "carrier");
    assert_ne!(json["echo_id"].as_str().unwrap(), echo_id);

    // An answer that refuses is an answer too: kept and given again.
    let junk = echo(&app, &key, Some("junk-1"), "not json").await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    let junk = junk.text().await.unwrap();
    let again = echo(&app, &key, Some("junk-1"), "not json").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(replayed(&again));
    assert_eq!(again.text().await.unwrap(), junk);
}

async fn a_repeat_while_the_first_runs_is_told_to_retry(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = new_key(&app, "warehouse").await;
    let caller = api::authenticate(&app.shop, &key).await.unwrap().unwrap();
    // Another node has claimed the key and is still at work.
    let running = ApiRequest {
        caller_key_id: caller.key_id.clone(),
        idempotency_key: "slow-1".into(),
        method: "POST".into(),
        path: "/api/v1/echo".into(),
        body: br#"{"slow":true}"#.to_vec(),
    };
    app.shop
        .store()
        .claim_idempotency_key(
            &caller.key_id,
            "slow-1",
            &running.fingerprint(),
            KEPT_FOR,
            ABANDONED_AFTER,
        )
        .await
        .unwrap();
    let busy = echo(&app, &key, Some("slow-1"), r#"{"slow":true}"#).await;
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert!(busy.headers().contains_key("Retry-After"));
    assert!(error_of(busy).await.contains("retry"));
    let other = echo(&app, &key, Some("slow-1"), r#"{"slow":false}"#).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn racing_repeats_on_two_nodes_run_once(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = a.another_node().await;
    let key = new_key(&a, "warehouse").await;
    let sends = (0..12).map(|n| {
        let node = if n % 2 == 0 { &a } else { &b };
        echo(node, &key, Some("race-1"), r#"{"race":1}"#)
    });
    let answers = futures::future::join_all(sends).await;
    let mut ran = 0;
    let mut echo_ids = Vec::new();
    for answer in answers {
        match answer.status() {
            StatusCode::OK => {
                if !replayed(&answer) {
                    ran += 1;
                }
                let json: serde_json::Value = answer.json().await.unwrap();
                echo_ids.push(json["echo_id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ran, 1, "exactly one request ran the echo");
    echo_ids.dedup();
    assert_eq!(
        echo_ids.len(),
        1,
        "every answer is the one run's: {echo_ids:?}"
    );
    let settled = echo(&b, &key, Some("race-1"), r#"{"race":1}"#).await;
    assert!(replayed(&settled));
}

on_both_backends!(
    strangers_are_sent_to_the_login_page,
    a_login_makes_a_new_session_and_logout_ends_it,
    the_cookie_is_secure_when_the_shop_is_served_over_https,
    a_wrong_password_and_an_unknown_email_read_the_same,
    logins_are_limited_per_account_on_every_node,
    logins_are_limited_per_address,
    an_idle_session_expires,
    a_new_password_or_removal_ends_the_members_sessions,
    admin_forms_need_the_staff_sessions_csrf_token,
    the_demo_staff_account_comes_with_demo_data_only,
    api_keys_open_the_api_until_revoked,
    echo_runs_once_per_idempotency_key,
    a_repeat_while_the_first_runs_is_told_to_retry,
    racing_repeats_on_two_nodes_run_once,
);

// The command line.

/// Runs the built `kassa` with `args` on the config at `config`, `stdin`
/// as its input; returns (success, stdout, stderr).
fn kassa(config: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kassa");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_admin_commands_make_staff_and_keys_the_shop_accepts() {
    let resources = Arc::new(fresh_resources(Backend::Sqlite).await);
    let data_dir = resources.data_dir.path();
    let config = data_dir.join("kassa.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[shop]\ndemo_data = false\n",
            data_dir.to_str().unwrap()
        ),
    )
    .unwrap();

    let (ok, _, err) = kassa(&config, &["admin", "add", "ops@example.com"], "short\n");
    assert!(!ok);
    assert!(err.contains("too short"), "{err}");
    let (ok, out, err) = kassa(
        &config,
        &["admin", "add", "Ops@Example.com"],
        "ops password 1\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("ops@example.com"), "{out}");
    let (ok, _, err) = kassa(
        &config,
        &["admin", "add", "ops@example.com"],
        "another password\n",
    );
    assert!(!ok);
    assert!(err.contains("exists already"), "{err}");

    let (ok, out, err) = kassa(&config, &["admin", "api-key", "warehouse"], "");
    assert!(ok, "{err}");
    let key = out.trim().to_owned();
    assert!(
        key.starts_with("kassa_live_") && !key.contains('\n'),
        "{out}"
    );
    let (ok, out, _) = kassa(&config, &["admin", "list-keys"], "");
    assert!(ok);
    assert!(out.contains("warehouse") && out.contains("live"), "{out}");
    assert!(!out.contains(&key), "the key is shown once only");

    // The shop on that data dir takes both.
    let mut settings = node_settings(&resources);
    settings.shop.demo_data = false;
    let app = start_node(settings, resources.clone()).await;
    assert_redirect(
        &log_in(&app, "ops@example.com", "ops password 1", "").await,
        "/admin",
    );
    let auth = format!("Bearer {key}");
    assert_eq!(ping(&app, Some(&auth)).await.status(), StatusCode::OK);

    // A new password, then the account removed, from the command line.
    let (ok, out, err) = kassa(
        &config,
        &["admin", "password", "Ops@Example.com"],
        "ops password 2\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("ops@example.com"), "{out}");
    let old = log_in(&app, "ops@example.com", "ops password 1", "").await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_redirect(
        &log_in(&app, "ops@example.com", "ops password 2", "").await,
        "/admin",
    );
    let (ok, _, err) = kassa(
        &config,
        &["admin", "password", "ops@example.com"],
        "short\n",
    );
    assert!(!ok);
    assert!(err.contains("too short"), "{err}");
    let (ok, _, err) = kassa(&config, &["admin", "remove", "ops@example.com"], "");
    assert!(ok, "{err}");
    assert_to_login(&app.get("/admin").await, "/admin");
    let gone = log_in(&app, "ops@example.com", "ops password 2", "").await;
    assert_eq!(gone.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (ok, _, err) = kassa(&config, &["admin", "remove", "ops@example.com"], "");
    assert!(!ok);
    assert!(err.contains("no staff account"), "{err}");

    let (ok, _, err) = kassa(&config, &["admin", "revoke-key", "warehouse"], "");
    assert!(ok, "{err}");
    assert_unauthorized(&ping(&app, Some(&auth)).await);
    let (_, out, _) = kassa(&config, &["admin", "list-keys"], "");
    assert!(out.contains("revoked"), "{out}");
    let (ok, _, err) = kassa(&config, &["admin", "revoke-key", "warehouse"], "");
    assert!(!ok);
    assert!(err.contains("no live API key"), "{err}");
}
