//! Registering, logging in and out.

use crate::helpers::*;
use reqwest::StatusCode;

fn registration(email: &str, password: &str, confirmation: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.into()),
        ("password", password.into()),
        ("password_confirmation", confirmation.into()),
        ("next", "/cart".into()),
    ]
}

async fn register_log_out_and_log_in_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let token_before = app.csrf().await;
    let created = app
        .post(
            "/account/register",
            &registration("Cy@Example.com", "a long password", "a long password"),
        )
        .await;
    assert_redirect(&created, "/cart");
    let page = app.get_html("/").await;
    assert!(page.contains("data-testid=\"user\">cy@example.com<"));
    assert_ne!(
        csrf_token(&page),
        token_before,
        "logging in renews the CSRF token"
    );

    assert_redirect(&app.post("/account/logout", &[]).await, "/");
    assert!(!app.get_html("/").await.contains("data-testid=\"user\""));

    let wrong = app
        .post(
            "/account/login",
            &[
                ("email", "cy@example.com".into()),
                ("password", "wrong password".into()),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("The email address or the password is not correct."));
    assert!(
        page.contains("value=\"cy@example.com\""),
        "the email is kept"
    );

    let unknown = app
        .post(
            "/account/login",
            &[
                ("email", "nobody@example.com".into()),
                ("password", "a long password".into()),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let ok = app
        .post(
            "/account/login",
            &[
                ("email", "CY@example.com".into()),
                ("password", "a long password".into()),
                ("next", "/checkout".into()),
            ],
        )
        .await;
    assert_redirect(&ok, "/checkout");
}

async fn registration_problems_are_shown_next_to_the_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app
        .post(
            "/account/register",
            &registration("not an email", "short", "short"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"email-error\""));
    assert!(page.contains("Please choose a password of at least 10 characters."));
    assert!(page.contains("value=\"not an email\""));

    app.post(
        "/account/register",
        &registration("dee@example.com", "a long password", "a long password"),
    )
    .await;
    let other = client();
    let again = TestApp {
        client: other,
        ..app
    };
    let page = again
        .post(
            "/account/register",
            &registration("dee@example.com", "another password", "another password"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("An account with this email address exists already."));
}

async fn a_guest_cart_is_kept_when_logging_in_and_resumed_on_the_next_login(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post(
        "/account/register",
        &registration("eve@example.com", "a long password", "a long password"),
    )
    .await;
    app.add_to_cart("milk-jug", 2).await;
    app.post("/account/logout", &[]).await;
    assert!(
        app.get_html("/")
            .await
            .contains("data-testid=\"cart-count\">0<")
    );

    let login = app
        .post(
            "/account/login",
            &[
                ("email", "eve@example.com".into()),
                ("password", "a long password".into()),
            ],
        )
        .await;
    assert_redirect(&login, "/");
    assert!(
        app.get_html("/")
            .await
            .contains("data-testid=\"cart-count\">2<"),
        "the cart is back"
    );
}

async fn next_only_follows_paths_of_this_shop(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = registration("fay@example.com", "a long password", "a long password");
    form[3].1 = "//evil.example/".into();
    assert_redirect(&app.post("/account/register", &form).await, "/");
    app.post("/account/logout", &[]).await;
    let login = |next: &str| {
        vec![
            ("email", "fay@example.com".to_owned()),
            ("password", "a long password".to_owned()),
            ("next", next.to_owned()),
        ]
    };
    // Browsers drop tabs from URLs: "/\t/evil" would be "//evil".
    assert_redirect(
        &app.post("/account/login", &login("/\t/evil.example")).await,
        "/",
    );
    app.post("/account/logout", &[]).await;
    assert_redirect(&app.post("/account/login", &login("/cart")).await, "/cart");
}

on_both_backends!(
    register_log_out_and_log_in_again,
    registration_problems_are_shown_next_to_the_fields,
    a_guest_cart_is_kept_when_logging_in_and_resumed_on_the_next_login,
    next_only_follows_paths_of_this_shop,
);
