//! The welcome mail, and setting a new password by a link in a mail: the
//! answer to "Forgot your password?" never says whether an address has an
//! account, a link works once and for an hour, a forged one is refused
//! unlooked-up, asking is limited per account and per client address, and
//! a new password ends the logins made with the old one.

use crate::helpers::*;
use crate::hosted::wait_for;
use crate::mails::mail_to;
use crate::smtp::SmtpServer;
use kassa::application::password_reset::{reset_link, token_hash};
use kassa::domain::mail::MailKind;
use kassa::domain::password_reset::{LinkRefusal, ResetLimits};
use kassa::store::mail::MailRecord;
use kassa::store::password_reset::{NewReset, ResetRequested};
use reqwest::StatusCode;
use std::time::Duration;

on_both_backends!(
    registering_queues_one_welcome_mail,
    a_mailed_link_sets_a_new_password_once_and_logs_in,
    a_new_password_ends_the_accounts_other_logins,
    known_and_unknown_addresses_get_the_same_answer,
    the_new_password_follows_the_rules_and_is_never_shown,
    an_expired_link_is_refused,
    a_newer_link_used_uses_up_the_older_ones,
    one_link_sent_twice_at_once_sets_one_password,
    a_forged_token_is_refused_before_it_is_looked_up,
    links_per_account_are_limited,
    requests_per_client_address_are_limited,
    the_forms_need_the_csrf_token,
    the_link_in_the_sent_mail_opens_the_form,
);

const OLD: &str = "the old password";
const NEW: &str = "a brand new password";
const FORGOT: &str = "/account/password/forgot";
const RESET: &str = "/account/password/reset";

/// Registers `email` with the old password on a client of its own; the
/// account's id.
async fn account(app: &TestApp, email: &str) -> String {
    let own = app.with_client(&client());
    let created = own
        .post(
            "/account/register",
            &[
                ("email", email.into()),
                ("password", OLD.into()),
                ("password_confirmation", OLD.into()),
            ],
        )
        .await;
    assert_redirect(&created, "/");
    app.shop
        .store()
        .user_by_email(&email.to_lowercase())
        .await
        .unwrap()
        .expect("the account exists")
        .id
}

/// "Forgot your password?" for `email`.
async fn ask_for_link(app: &TestApp, email: &str) -> reqwest::Response {
    app.post(FORGOT, &[("email", email.into())]).await
}

/// The neutral answer's page, checked to be one.
async fn neutral_answer(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("If an account exists for that address, we have sent a link"),
        "{page}"
    );
    page
}

async fn reset_mails(app: &TestApp, user_id: &str) -> Vec<MailRecord> {
    let mails = app.shop.store().account_mails(user_id).await.unwrap();
    mails
        .into_iter()
        .filter(|m| m.kind == MailKind::PasswordReset)
        .collect()
}

/// The path and query of a reset mail's link, as the mail worker makes it.
fn link_of(app: &TestApp, mail: &MailRecord) -> String {
    let link = reset_link(&app.shop, &mail.reference);
    let path = link
        .strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{link} is not on {}", app.address));
    path.to_owned()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("a token").to_owned()
}

/// Asks for a link for the account and returns the new one's path.
async fn new_link(app: &TestApp, email: &str, user_id: &str) -> String {
    let before = reset_mails(app, user_id).await.len();
    neutral_answer(ask_for_link(app, email).await).await;
    let mails = reset_mails(app, user_id).await;
    assert_eq!(mails.len(), before + 1, "one more reset mail");
    link_of(app, mails.last().unwrap())
}

async fn set_password(
    app: &TestApp,
    token: &str,
    password: &str,
    confirmation: &str,
) -> reqwest::Response {
    app.post(
        RESET,
        &[
            ("token", token.into()),
            ("password", password.into()),
            ("password_confirmation", confirmation.into()),
        ],
    )
    .await
}

/// Whether `password` logs `email` in, on a fresh client.
async fn logs_in(app: &TestApp, email: &str, password: &str) -> bool {
    let own = app.with_client(&client());
    let response = own
        .post(
            "/account/login",
            &[("email", email.into()), ("password", password.into())],
        )
        .await;
    response.status() == StatusCode::SEE_OTHER
}

/// Logs `email` in on `app`'s client.
async fn log_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post(
        "/account/login",
        &[("email", email.into()), ("password", password.into())],
    )
    .await
}

/// The page saying the link does not work, with its status and reason.
async fn refused(response: reqwest::Response, status: StatusCode, refusal: LinkRefusal) {
    assert_eq!(response.status(), status);
    let page = response.text().await.unwrap();
    assert!(page.contains(&refusal.to_string()), "{refusal:?}: {page}");
    assert!(page.contains("href=\"/account/password/forgot\""), "{page}");
}

async fn registering_queues_one_welcome_mail(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "Wendy@Example.com").await;
    let mails = app.shop.store().account_mails(&user_id).await.unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let welcome = &mails[0];
    assert_eq!(welcome.kind, MailKind::Welcome);
    assert_eq!(welcome.recipient, "wendy@example.com");
    assert_eq!(welcome.user_id.as_deref(), Some(user_id.as_str()));
    assert_eq!(welcome.order_id, None);

    // Registering the address again is refused and mails nothing.
    let again = app
        .with_client(&client())
        .post(
            "/account/register",
            &[
                ("email", "wendy@example.com".into()),
                ("password", NEW.into()),
                ("password_confirmation", NEW.into()),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.shop
            .store()
            .account_mails(&user_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_mailed_link_sets_a_new_password_once_and_logs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "rita@example.com").await;
    let login = app.get_html("/account/login").await;
    assert!(
        login.contains("href=\"/account/password/forgot\""),
        "{login}"
    );
    assert_eq!(app.get(FORGOT).await.status(), StatusCode::OK);

    let link = new_link(&app, "Rita@Example.com", &user_id).await;
    let mail = reset_mails(&app, &user_id).await.remove(0);
    assert_eq!(mail.recipient, "rita@example.com");

    let form = app.get(&link).await;
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap();
    let token = token_of(&link);
    assert!(
        form.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{form}"
    );
    let csrf_before = csrf_token(&form);

    let done = set_password(&app, &token, NEW, NEW).await;
    assert_redirect(&done, "/");
    let home = app.get_html("/").await;
    assert!(home.contains("Your new password is set."), "{home}");
    assert!(home.contains("data-testid=\"user\">rita@example.com<"));
    assert_ne!(csrf_token(&home), csrf_before, "a new session, as a login");

    assert!(!logs_in(&app, "rita@example.com", OLD).await);
    assert!(logs_in(&app, "rita@example.com", NEW).await);

    // The same link again: used.
    refused(app.get(&link).await, StatusCode::GONE, LinkRefusal::Used).await;
    let again = set_password(&app, &token, "yet another password", "yet another password").await;
    refused(again, StatusCode::GONE, LinkRefusal::Used).await;
    assert!(logs_in(&app, "rita@example.com", NEW).await);
}

async fn a_new_password_ends_the_accounts_other_logins(backend: Backend) {
    // Sessions in the cookie on SQLite, in Redis on PostgreSQL (several
    // nodes): a login ends the same way in both.
    let app = spawn_app_with(backend, |settings| {
        if backend == Backend::Postgres {
            use_redis_sessions(settings);
        }
    })
    .await;
    let email = "sam@example.com";
    let user_id = account(&app, email).await;
    let shown_in = |page: &str| page.contains("data-testid=\"user\">sam@example.com<");
    // Logged in on another device, with two jugs in the account's cart:
    // with the cookie store, that device's cookie is all there is of it.
    let other = app.with_client(&client());
    assert_redirect(&log_in(&other, email, OLD).await, "/");
    // An order placed there, which /checkout leads back to while no new
    // cart is begun...
    other.add_to_cart("milk-jug", 1).await;
    let confirmation = other.buy(&checkout_form()).await;
    assert_eq!(
        location(&other.get("/checkout/payment").await),
        confirmation
    );
    other.add_to_cart("milk-jug", 2).await;
    let before = other.get_html("/").await;
    assert!(shown_in(&before), "{before}");

    let link = new_link(&app, email, &user_id).await;
    assert_redirect(&set_password(&app, &token_of(&link), NEW, NEW).await, "/");
    // Who set it stays logged in.
    assert!(shown_in(&app.get_html("/").await));

    // The other device is logged out at its next page, and told why once.
    let after = other.get_html("/").await;
    assert!(!shown_in(&after), "{after}");
    assert!(after.contains("data-testid=\"cart-count\">0<"), "{after}");
    assert!(
        after.contains("Your password was changed, so you were logged out."),
        "{after}"
    );
    let next = other.get_html("/").await;
    assert!(!shown_in(&next) && !next.contains("Your password was changed"));
    // ...and no longer, once the login is ended.
    let checkout = other.get("/checkout/payment").await;
    assert_eq!(checkout.status(), StatusCode::SEE_OTHER);
    assert_ne!(location(&checkout), confirmation);
    // A form it sends as the account goes nowhere near the account's cart.
    other.add_to_cart("milk-jug", 1).await;
    assert!(
        other
            .get_html("/")
            .await
            .contains("data-testid=\"cart-count\">1<")
    );

    // With the new password it is back, and so is nothing lost: the
    // account's cart and the line added meanwhile as a guest.
    assert_redirect(&log_in(&other, email, NEW).await, "/");
    let again = other.get_html("/").await;
    assert!(shown_in(&again), "{again}");
    assert!(again.contains("data-testid=\"cart-count\">3<"), "{again}");
    assert!(shown_in(&other.get_html("/").await), "the new login stands");
}

async fn known_and_unknown_addresses_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "kim@example.com").await;
    let known = neutral_answer(ask_for_link(&app, "kim@example.com").await).await;
    let unknown = neutral_answer(ask_for_link(&app, "nobody@example.com").await).await;
    assert_eq!(known, unknown, "the pages are the same, byte for byte");
    assert!(!known.contains("kim@example.com"));
    assert_eq!(reset_mails(&app, &user_id).await.len(), 1);

    // Not an address at all: said next to the field, nothing asked.
    let junk = ask_for_link(&app, "not an address").await;
    assert_eq!(junk.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = junk.text().await.unwrap();
    assert!(page.contains("id=\"email-error\""), "{page}");
    assert!(page.contains("value=\"not an address\""), "{page}");
}

async fn the_new_password_follows_the_rules_and_is_never_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "pia@example.com").await;
    let token = token_of(&new_link(&app, "pia@example.com", &user_id).await);

    let short = set_password(&app, &token, "short", "short").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = short.text().await.unwrap();
    assert!(page.contains("Please choose a password of at least 10 characters."));
    assert!(page.contains("aria-describedby=\"password-error\""));
    assert!(!page.contains("value=\"short\""), "no password is echoed");
    assert!(page.contains(&format!("name=\"token\" value=\"{token}\"")));

    let typo = set_password(&app, &token, NEW, "a brand new passwort").await;
    assert_eq!(typo.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = typo.text().await.unwrap();
    assert!(
        page.contains("id=\"password_confirmation-error\""),
        "{page}"
    );
    assert!(!page.contains(NEW) && !page.contains("passwort"));

    // The link still works after a refused password.
    assert!(logs_in(&app, "pia@example.com", OLD).await);
    assert_redirect(&set_password(&app, &token, NEW, NEW).await, "/");
    assert!(logs_in(&app, "pia@example.com", NEW).await);
}

async fn an_expired_link_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "eli@example.com").await;
    let link = new_link(&app, "eli@example.com", &user_id).await;
    let reset_id = reset_mails(&app, &user_id).await.remove(0).reference;
    app.shop
        .store()
        .age_password_reset(&reset_id, Duration::from_secs(61 * 60))
        .await
        .unwrap();

    refused(app.get(&link).await, StatusCode::GONE, LinkRefusal::Expired).await;
    let late = set_password(&app, &token_of(&link), NEW, NEW).await;
    refused(late, StatusCode::GONE, LinkRefusal::Expired).await;
    assert!(logs_in(&app, "eli@example.com", OLD).await);
}

async fn a_newer_link_used_uses_up_the_older_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "ola@example.com").await;
    let first = new_link(&app, "ola@example.com", &user_id).await;
    let second = new_link(&app, "ola@example.com", &user_id).await;
    assert_ne!(first, second);
    assert_redirect(&set_password(&app, &token_of(&second), NEW, NEW).await, "/");
    refused(app.get(&first).await, StatusCode::GONE, LinkRefusal::Used).await;
    let old_link = set_password(&app, &token_of(&first), OLD, OLD).await;
    refused(old_link, StatusCode::GONE, LinkRefusal::Used).await;
    assert!(logs_in(&app, "ola@example.com", NEW).await);
}

async fn one_link_sent_twice_at_once_sets_one_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "tom@example.com").await;
    let token = token_of(&new_link(&app, "tom@example.com", &user_id).await);
    let (one, two) = (app.with_client(&client()), app.with_client(&client()));
    let (first, second) = tokio::join!(
        set_password(
            &one,
            &token,
            "the first new password",
            "the first new password"
        ),
        set_password(
            &two,
            &token,
            "the second new password",
            "the second new password"
        ),
    );
    let statuses = [first.status(), second.status()];
    assert!(
        statuses.contains(&StatusCode::SEE_OTHER) && statuses.contains(&StatusCode::GONE),
        "one sets the password, the other finds the link used: {statuses:?}"
    );
    let winner = if first.status() == StatusCode::SEE_OTHER {
        "the first new password"
    } else {
        "the second new password"
    };
    assert!(logs_in(&app, "tom@example.com", winner).await);
}

async fn a_forged_token_is_refused_before_it_is_looked_up(backend: Backend) {
    let app = spawn_app(backend).await;
    account(&app, "fay@example.com").await;
    // A reset stored under a token the shop did not sign: found by its
    // hash, it would work; only the signature check stops it.
    let reset_id = "forged-reset";
    let forged = format!("{reset_id}.{}", "0".repeat(64));
    let store = app.shop.store();
    let now = kassa::clock::now();
    let reset = NewReset {
        id: reset_id,
        token_hash: &token_hash(&forged),
        expires_at: now + time::Duration::hours(1),
    };
    let limits = ResetLimits {
        per_account: 10,
        per_ip: 10,
    };
    let stored = store
        .request_password_reset(
            "fay@example.com",
            &reset,
            &limits,
            Duration::from_secs(3600),
            now,
        )
        .await
        .unwrap();
    assert_eq!(stored, ResetRequested::Mailed);
    assert_eq!(
        store
            .password_reset_state(&token_hash(&forged), now)
            .await
            .unwrap(),
        Ok(()),
        "the stored row alone would let it in"
    );

    let page = app.get(&format!("{RESET}?token={forged}")).await;
    refused(page, StatusCode::NOT_FOUND, LinkRefusal::Unknown).await;
    let sent = set_password(&app, &forged, NEW, NEW).await;
    refused(sent, StatusCode::NOT_FOUND, LinkRefusal::Unknown).await;
    assert!(logs_in(&app, "fay@example.com", OLD).await);

    let long = "a".repeat(5000);
    for junk in ["", "no-dot", "x.y", ".", "..", long.as_str()] {
        let page = app.get(&format!("{RESET}?token={junk}")).await;
        refused(page, StatusCode::NOT_FOUND, LinkRefusal::Unknown).await;
    }
    refused(
        app.get(RESET).await,
        StatusCode::NOT_FOUND,
        LinkRefusal::Unknown,
    )
    .await;
}

async fn links_per_account_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "lou@example.com").await;
    let limit = app.settings.accounts.max_resets_per_account;
    assert_eq!(limit, 3);
    let mut answers = Vec::new();
    for _ in 0..limit + 2 {
        answers.push(neutral_answer(ask_for_link(&app, "lou@example.com").await).await);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "the same answer");
    let mails = reset_mails(&app, &user_id).await;
    assert_eq!(mails.len(), 3, "no mail past the limit");

    // Once the window has passed, a link is mailed again.
    for mail in &mails {
        app.shop
            .store()
            .age_password_reset(&mail.reference, Duration::from_secs(61 * 60))
            .await
            .unwrap();
    }
    new_link(&app, "lou@example.com", &user_id).await;
}

async fn requests_per_client_address_are_limited(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.max_reset_requests_per_ip = 2;
        s.admin.trust_forwarded_for = true;
    })
    .await;
    let user_id = account(&app, "ida@example.com").await;
    let from = async |ip: &str, email: &str| {
        let body = [
            ("email", email.to_owned()),
            ("csrf_token", app.csrf().await),
        ];
        app.client
            .post(app.url(FORGOT))
            .header("X-Forwarded-For", ip)
            .form(&body)
            .send()
            .await
            .unwrap()
    };
    let first = neutral_answer(from("203.0.113.7", "ida@example.com").await).await;
    neutral_answer(from("203.0.113.7", "nobody@example.com").await).await;
    assert_eq!(reset_mails(&app, &user_id).await.len(), 1);

    // The third request from the address, for any email, mails nothing.
    let limited = neutral_answer(from("203.0.113.7", "ida@example.com").await).await;
    assert_eq!(limited, first, "the same answer");
    assert_eq!(reset_mails(&app, &user_id).await.len(), 1);

    // Another client is counted apart.
    neutral_answer(from("198.51.100.2", "ida@example.com").await).await;
    assert_eq!(reset_mails(&app, &user_id).await.len(), 2);
}

async fn the_forms_need_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = account(&app, "cai@example.com").await;
    app.get("/").await;
    let no_token = app
        .client
        .post(app.url(FORGOT))
        .form(&[("email", "cai@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert!(reset_mails(&app, &user_id).await.is_empty());

    let token = token_of(&new_link(&app, "cai@example.com", &user_id).await);
    let no_token = app
        .client
        .post(app.url(RESET))
        .form(&[
            ("token", token.as_str()),
            ("password", NEW),
            ("password_confirmation", NEW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert!(logs_in(&app, "cai@example.com", OLD).await);
    assert_redirect(&set_password(&app, &token, NEW, NEW).await, "/");
}

async fn the_link_in_the_sent_mail_opens_the_form(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, |s| {
        mail_to(s, &smtp);
        // Said outright: the endpoint check does not yet take the tests'
        // 127.0.0.1 for this machine.
        s.mail.url = format!("{}?tls=none", smtp.url());
    })
    .await;
    let user_id = account(&app, "sam@example.com").await;
    neutral_answer(ask_for_link(&app, "sam@example.com").await).await;

    let received = smtp.wait_for_count(2, Duration::from_secs(10)).await;
    let reset = received
        .iter()
        .find(|m| m.subject.starts_with("Set a new password"))
        .expect("the reset mail arrived");
    assert_eq!(reset.envelope_to, ["sam@example.com"]);
    let prefix = format!("{}{RESET}?token=", app.address);
    let start = reset.text.find(&prefix).expect("the link is in the mail");
    let link: String = reset.text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let mail = reset_mails(&app, &user_id).await.remove(0);
    assert_eq!(link, reset_link(&app.shop, &mail.reference));

    // What the shop keeps of the sent mail holds no link.
    wait_for("the mail kept as sent", async || {
        let mail = reset_mails(&app, &user_id).await.remove(0);
        mail.content.is_some()
    })
    .await;
    let kept = reset_mails(&app, &user_id).await.remove(0).content.unwrap();
    assert!(!kept.text.contains(&token_of(&link)));
    assert!(!kept.html.contains(&token_of(&link)));

    assert_eq!(
        app.get(&link[app.address.len()..]).await.status(),
        StatusCode::OK
    );
    assert_redirect(&set_password(&app, &token_of(&link), NEW, NEW).await, "/");
}
