//! The place-order process with a scripted payment gateway: every flow
//! status and action, cancelling, early place order, concurrent refreshes
//! and crashes in the middle.

use crate::helpers::*;
use crate::scripted_gateway::{self as scripted, METHOD, ScriptedGateway};
use kassa::config::Settings;
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::{FlowStatus, PaymentStatus};
use kassa::domain::placeorder::{FailureReason, State};
use kassa::payment::PaymentGateway;
use reqwest::StatusCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn shop_with(
    backend: Backend,
    gateway: &Arc<ScriptedGateway>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let resources = Arc::new(fresh_resources(backend).await);
    let mut settings = node_settings(&resources);
    adjust(&mut settings);
    let gateway: Arc<dyn PaymentGateway> = gateway.clone();
    start_node_with(settings, resources, vec![gateway]).await
}

fn form() -> Vec<(&'static str, String)> {
    with(checkout_form(), "payment_method", METHOD)
}

/// Fills a cart, sends the form and clicks "Place order".
async fn place(app: &TestApp) -> reqwest::Response {
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(&app.submit_checkout(&form()).await, "/checkout/review");
    app.confirm_review().await
}

async fn latest_process(app: &TestApp) -> kassa::domain::placeorder::Process {
    app.latest_process().await
}

async fn each_flow_status_and_action_leads_to_its_page(backend: Backend) {
    // Redirect: off to the provider.
    let gw = ScriptedGateway::new(
        false,
        vec![scripted::action(
            "redirect",
            Some("https://pay.example/s/1"),
            None,
        )],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    assert_redirect(&place(&app).await, "/checkout/payment");
    assert_redirect(
        &app.get("/checkout/payment").await,
        "https://pay.example/s/1",
    );
    assert_eq!(latest_process(&app).await.state, State::Redirect);
    assert_eq!(app.order_count().await, 0);

    // Show HTML: the provider's markup on the payment page.
    let gw = ScriptedGateway::new(
        false,
        vec![scripted::action(
            "show_html",
            None,
            Some("<p id=\"provider\">Pay here</p>"),
        )],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let page = app.get_html("/checkout/payment").await;
    assert!(page.contains("<p id=\"provider\">Pay here</p>"), "{page}");

    // Post redirect: a form to the provider with its fields.
    let gw = ScriptedGateway::new(
        false,
        vec![scripted::action(
            "post_redirect",
            Some("https://pay.example/post"),
            None,
        )],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let page = app.get_html("/checkout/payment").await;
    assert!(page.contains("action=\"https://pay.example/post\""));
    assert!(page.contains("name=\"session\" value=\"s-1\""));

    // Show iframe: the provider framed, and allowed to be.
    let gw = ScriptedGateway::new(
        false,
        vec![scripted::action(
            "show_iframe",
            Some("https://pay.example/frame"),
            None,
        )],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let response = app.get("/checkout/payment").await;
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-src https:")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<iframe src=\"https://pay.example/frame\"")
    );

    // An action that would send the shopper to a script: fails with a
    // clear reason, cart back.
    let gw = ScriptedGateway::new(
        false,
        vec![scripted::action(
            "redirect",
            Some("javascript:alert(1)"),
            None,
        )],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    assert_redirect(&place(&app).await, "/checkout");
    let process = latest_process(&app).await;
    assert_eq!(process.state, State::Failed);
    assert!(
        matches!(process.failure, Some(FailureReason::Error(m)) if m.contains("unusable address 'javascript:alert(1)'"))
    );
    assert!(
        app.get_html("/checkout")
            .await
            .contains("We could not place your order")
    );

    // Waiting: the page waits and refreshes itself.
    let gw = ScriptedGateway::new(false, vec![FlowStatus::WaitingForCustomer]);
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let page = app.get_html("/checkout/payment").await;
    assert!(page.contains("data-testid=\"waiting\""));
    assert!(page.contains("<meta http-equiv=\"refresh\""));
    assert!(page.contains("action=\"/checkout/payment/cancel\""));
    assert_eq!(latest_process(&app).await.state, State::WaitForCustomer);
}

async fn approved_and_completed_payments_place_the_order(backend: Backend) {
    for (answer, confirms, payment_status) in [
        (scripted::approved(), 1, PaymentStatus::Authorized),
        (scripted::completed(), 0, PaymentStatus::Captured),
    ] {
        let gw = ScriptedGateway::new(false, vec![FlowStatus::WaitingForCustomer, answer]);
        let app = shop_with(backend, &gw, |_| {}).await;
        assert_redirect(&place(&app).await, "/checkout/payment");
        assert_eq!(app.order_count().await, 0, "nothing placed while waiting");
        assert_redirect(&app.get("/checkout/payment").await, "/checkout/placeorder");
        let success = location(&app.get("/checkout/placeorder").await);
        let order = app.order(&order_number(&success)).await;
        assert_eq!(order.status, OrderStatus::Placed);
        assert_eq!(order.payment.unwrap().status, payment_status);
        assert_eq!(gw.confirms.load(Ordering::SeqCst), confirms);
        assert_eq!(latest_process(&app).await.state, State::Success);
        assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
    }
}

async fn failed_cancelled_and_aborted_payments_give_the_cart_back(backend: Backend) {
    let cases = [
        (
            FlowStatus::Failed {
                reason: "Card declined".into(),
            },
            Some("Card declined"),
            "PaymentError",
        ),
        (
            FlowStatus::Cancelled,
            Some("cancelled by the payment provider"),
            "PaymentError",
        ),
        (FlowStatus::Aborted, None, "CanceledByCustomer"),
    ];
    for (answer, message, reason) in cases {
        let gw = ScriptedGateway::new(false, vec![FlowStatus::WaitingForCustomer, answer]);
        let app = shop_with(backend, &gw, |_| {}).await;
        place(&app).await;
        let first_key = latest_process(&app).await.context.idempotency_key;
        assert_redirect(&app.get("/checkout/payment").await, "/checkout");
        let page = app.get_html("/checkout").await;
        match message {
            Some(message) => assert!(page.contains(message), "{reason}: {page}"),
            // Aborted by the shopper: no error, just back.
            None => {
                assert!(!page.contains("flash-error"), "{reason}");
                assert!(page.contains("The payment was cancelled. Your cart is as it was."));
            }
        }
        let process = latest_process(&app).await;
        assert_eq!(process.state, State::Failed);
        assert_eq!(process.failure.as_ref().unwrap().name(), reason);
        assert_eq!(
            gw.cancels.load(Ordering::SeqCst),
            1,
            "{reason}: the payment was voided"
        );
        assert_eq!(app.order_count().await, 0);
        assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
        // The cart is intact and open; the next attempt gets a new key.
        assert!(page.contains("data-testid=\"cart-count\">1<"));
        gw.answer_next(vec![FlowStatus::WaitingForCustomer]);
        assert_redirect(&app.confirm_review().await, "/checkout/payment");
        assert_ne!(
            latest_process(&app).await.context.idempotency_key,
            first_key
        );
    }
}

async fn the_cancel_button_rolls_back_and_gives_the_cart_back(backend: Backend) {
    let gw = ScriptedGateway::new(false, vec![FlowStatus::WaitingForCustomer]);
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    // While the payment runs the cart cannot change.
    app.add_to_cart("espresso-cup", 1).await;
    assert!(
        app.get_html("/cart")
            .await
            .contains("Your cart is being paid")
    );
    assert_redirect(&app.get("/checkout").await, "/checkout/payment");

    assert_redirect(
        &app.post("/checkout/payment/cancel", &[]).await,
        "/checkout",
    );
    let process = latest_process(&app).await;
    assert_eq!(process.failure, Some(FailureReason::CanceledByCustomer));
    assert_eq!(gw.cancels.load(Ordering::SeqCst), 1);
    app.add_to_cart("espresso-cup", 1).await;
    assert!(
        app.get_html("/cart")
            .await
            .contains("data-testid=\"cart-count\">2<"),
        "the cart is open again"
    );
    assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
}

async fn early_place_order_waits_and_a_failure_cancels_the_order(backend: Backend) {
    let gw = ScriptedGateway::new(
        true,
        vec![
            FlowStatus::WaitingForCustomer,
            FlowStatus::Failed {
                reason: "Card declined".into(),
            },
        ],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    assert_redirect(&place(&app).await, "/checkout/payment");
    let order = latest_process(&app)
        .await
        .context
        .order
        .expect("placed early");
    let stored = app.order(&order.number).await;
    assert_eq!(stored.status, OrderStatus::PendingPayment);
    assert_eq!(app.stock_of("hand-grinder").await, 7);

    assert_redirect(&app.get("/checkout/payment").await, "/checkout");
    let cancelled = app.order(&order.number).await;
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(app.stock_of("hand-grinder").await, 8, "stock back");
    assert_eq!(app.order_count().await, 0);
    // The same lines are in the reopened cart, and it can be ordered again.
    let cart = app.get_html("/cart").await;
    assert!(cart.contains("Hand grinder") && cart.contains("data-testid=\"cart-count\">1<"));
    gw.answer_next(vec![scripted::completed()]);
    let success = assert_placed(&app.confirm_review().await);
    let placed = app.order(&order_number(&success)).await;
    assert_eq!(placed.status, OrderStatus::Placed);
    assert_eq!(app.order_count().await, 1);
    assert_eq!(app.stock_of("hand-grinder").await, 7);
    assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
}

async fn a_provider_that_is_down_gives_a_message_and_the_cart_back(backend: Backend) {
    let gw = ScriptedGateway::new(false, vec![scripted::approved()]);
    gw.down.store(true, Ordering::SeqCst);
    let app = shop_with(backend, &gw, |_| {}).await;
    assert_redirect(&place(&app).await, "/checkout");
    let page = app.get_html("/checkout").await;
    assert!(page.contains("The payment provider cannot be reached right now"));
    assert!(page.contains("data-testid=\"cart-count\">1<"));
    assert_eq!(app.order_count().await, 0);
}

async fn fifty_concurrent_refreshes_give_one_order(backend: Backend) {
    let gw = ScriptedGateway::new(
        true,
        vec![FlowStatus::WaitingForCustomer, scripted::approved()],
    );
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let refreshes = (0..50).map(|i| {
        let path = if i % 2 == 0 {
            "/checkout/payment"
        } else {
            "/checkout/placeorder"
        };
        app.client.get(app.url(path)).send()
    });
    for response in futures::future::join_all(refreshes).await {
        let response = response.expect("refresh");
        assert!(response.status().is_success() || response.status() == StatusCode::SEE_OTHER);
    }
    let success = location(&app.get("/checkout/placeorder").await);
    assert!(success.starts_with("/checkout/success"), "{success}");
    assert_eq!(app.order_count().await, 1);
    assert_eq!(gw.confirms.load(Ordering::SeqCst), 1, "completed once");
    assert_eq!(app.stock_of("hand-grinder").await, 7);
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KASSA_TEST_DATABASE_URL); run with --include-ignored"]
async fn two_nodes_refreshing_one_process_give_one_order() {
    let gw = ScriptedGateway::new(
        true,
        vec![FlowStatus::WaitingForCustomer, scripted::approved()],
    );
    // Cookie sessions work on both nodes when they share the key.
    let a = shop_with(Backend::Postgres, &gw, |s| {
        s.session.key = Some("3c".repeat(64).into())
    })
    .await;
    let b = a.another_node().await.with_client(&a.client);
    place(&a).await;
    let refreshes = (0..40).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.client.get(node.url("/checkout/payment")).send()
    });
    futures::future::join_all(refreshes).await;
    assert!(location(&b.get("/checkout/placeorder").await).starts_with("/checkout/success"));
    assert_eq!(a.order_count().await, 1);
    assert_eq!(gw.confirms.load(Ordering::SeqCst), 1);
}

/// Lease and sweeper quick enough for a test.
fn fast_recovery(settings: &mut Settings) {
    settings.placeorder.lease_ms = 400;
    settings.placeorder.wait_for_lease_ms = 200;
    settings.placeorder.sweep_interval_ms = 100;
    settings.placeorder.stalled_after_ms = 100;
}

/// The node dies while the process waits on the provider; a restarted
/// node's sweeper finishes it.
async fn crash_and_recover(backend: Backend, early: bool) -> TestApp {
    let gw = ScriptedGateway::new(early, vec![scripted::completed()]);
    gw.hang.store(true, Ordering::SeqCst);
    let app = shop_with(backend, &gw, fast_recovery).await;
    app.add_to_cart("hand-grinder", 1).await;
    assert_redirect(&app.submit_checkout(&form()).await, "/checkout/review");
    let reviewed = app.reviewed_version().await;
    let stuck =
        tokio::time::timeout(Duration::from_millis(700), app.place_reviewed(reviewed)).await;
    assert!(stuck.is_err(), "the request hangs on the provider");
    let process = latest_process(&app).await;
    assert_eq!(
        process.state,
        State::ValidatePayment,
        "saved after {}",
        if early { "PlaceOrder" } else { "CreatePayment" }
    );
    assert_eq!(process.context.order.is_some(), early);

    let app = app.crash_and_restart().await;
    gw.hang.store(false, Ordering::SeqCst);
    for _ in 0..100 {
        if latest_process(&app).await.state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let process = latest_process(&app).await;
    assert_eq!(
        process.state,
        State::Success,
        "the sweeper finished it: {process:?}"
    );
    assert_eq!(app.order_count().await, 1);
    assert_eq!(gw.payments_started(), 1, "one payment at the provider");
    assert_eq!(app.shop.store().count_orphaned_payments().await.unwrap(), 0);
    assert_eq!(app.stock_of("hand-grinder").await, 7);
    // The shopper comes back to the confirmation.
    let success = location(&app.get("/checkout/placeorder").await);
    assert!(success.starts_with("/checkout/success"), "{success}");
    app
}

async fn a_crash_after_create_payment_ends_in_one_order(backend: Backend) {
    crash_and_recover(backend, false).await;
}

async fn a_crash_after_place_order_ends_in_one_order(backend: Backend) {
    let app = crash_and_recover(backend, true).await;
    let order = latest_process(&app).await.context.order.unwrap();
    let stored = app.order(&order.number).await;
    assert_eq!(
        stored.status,
        OrderStatus::Placed,
        "the early order was completed"
    );
}

async fn placing_again_leads_to_the_running_process(backend: Backend) {
    let gw = ScriptedGateway::new(true, vec![FlowStatus::WaitingForCustomer]);
    let app = shop_with(backend, &gw, |_| {}).await;
    place(&app).await;
    let first = latest_process(&app).await;
    assert!(first.context.order.is_some(), "placed early");
    // A second click on "Place order" (or a stale tab) leads to the running
    // payment: the shopper may be paying in the provider's window.
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    assert_eq!(latest_process(&app).await.id, first.id);

    // Starting again while it runs leads to the running attempt as well:
    // nothing is voided, no second payment is started.
    let cart = app
        .shop
        .store()
        .cart(&first.cart_id)
        .await
        .unwrap()
        .unwrap();
    let again = kassa::application::placeorder::start(&app.shop, &cart.id, None, cart.version)
        .await
        .unwrap();
    assert_eq!(
        again,
        Ok(kassa::application::placeorder::ProcessStatus::Waiting)
    );
    assert_eq!(latest_process(&app).await.id, first.id);
    assert_eq!(gw.cancels.load(Ordering::SeqCst), 0);
    assert_eq!(gw.payments_started(), 1);

    // Cancelled, it is rolled back, and the next "Place order" starts a
    // new attempt with a new key.
    assert_redirect(
        &app.post("/checkout/payment/cancel", &[]).await,
        "/checkout",
    );
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let first = app.shop.store().process(&first.id).await.unwrap().unwrap();
    assert_eq!(first.state, State::Failed);
    assert_eq!(first.failure, Some(FailureReason::CanceledByCustomer));
    let second = latest_process(&app).await;
    assert_ne!(second.id, first.id);
    assert_ne!(
        second.context.idempotency_key,
        first.context.idempotency_key
    );
    assert_eq!(second.state, State::WaitForCustomer);
    assert_eq!(
        gw.cancels.load(Ordering::SeqCst),
        1,
        "the first payment was voided"
    );
    assert_eq!(gw.payments_started(), 2);
    assert_eq!(
        app.order_count().await,
        1,
        "the first order was cancelled, the second waits"
    );
    assert_eq!(app.stock_of("hand-grinder").await, 7);
}

on_both_backends!(
    placing_again_leads_to_the_running_process,
    each_flow_status_and_action_leads_to_its_page,
    approved_and_completed_payments_place_the_order,
    failed_cancelled_and_aborted_payments_give_the_cart_back,
    the_cancel_button_rolls_back_and_gives_the_cart_back,
    early_place_order_waits_and_a_failure_cancels_the_order,
    a_provider_that_is_down_gives_a_message_and_the_cart_back,
    fifty_concurrent_refreshes_give_one_order,
    a_crash_after_create_payment_ends_in_one_order,
    a_crash_after_place_order_ends_in_one_order,
);
