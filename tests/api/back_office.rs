//! After the order: deliveries, capture when a delivery is delivered,
//! cancel, refund, mark paid, and the races between staff, carriers and
//! the provider. Orders are placed over HTTP through the real checkout and
//! sandbox; the commands go through `application::fulfilment::act`, the
//! code the back office's buttons and the API call.

use crate::helpers::*;
use crate::hosted::{
    choose, fail_next_capture, hosted_shop, knobs, send_event, to_the_provider, wait_for,
};
use kassa::application::fulfilment::{self, Command, Outcome};
use kassa::config::CaptureMode;
use kassa::domain::fulfilment::{DeliveryStatus, OperationStatus, StaffOrder};
use kassa::domain::order::OrderStatus;
use kassa::domain::payment::{PaymentStatus, Settlement};

on_both_backends!(
    the_seed_story_captures_each_delivery_and_the_last_one_the_rest,
    a_stale_form_saves_nothing_and_names_who_changed_it,
    two_carriers_reporting_delivered_capture_once,
    delivered_on_two_nodes_at_once_captures_once,
    a_cancel_racing_a_capture_ends_with_the_money_back,
    a_refused_capture_is_shown_with_its_reason,
    refunds_never_exceed_what_was_captured,
    cash_in_advance_waits_for_mark_as_paid,
    cash_on_delivery_is_collected_after_delivery,
    an_unpaid_transfer_is_cancelled_after_its_days,
    a_staff_cancel_gives_the_voucher_use_back,
    a_capture_webhook_racing_delivered_changes_nothing_twice,
    a_provider_that_is_down_gets_the_capture_once_it_is_back,
    a_store_payment_made_after_a_cancel_is_refunded,
    a_capture_refused_after_a_cancel_releases_the_reservation,
    a_settlement_repeated_after_delivery_leaves_the_order_completed,
);

const WAREHOUSE: &str = "API key warehouse";
const STAFF: &str = "admin@kassa.example";

/// A card order paid with manual capture: the money stays reserved.
pub(crate) async fn reserved_card_order(app: &TestApp, products: &[(&str, i64)]) -> String {
    for (product, quantity) in products {
        app.add_to_cart(product, *quantity).await;
    }
    let form = with(checkout_form(), "payment_method", "hosted:card");
    assert_redirect(&app.submit_checkout(&form).await, "/checkout/review");
    assert_redirect(&app.confirm_review().await, "/checkout/payment");
    let pay_url = location(&app.get("/checkout/payment").await);
    let back = choose(app, &pay_url, "card").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    order_number(&success)
}

pub(crate) async fn manual_shop(backend: Backend) -> TestApp {
    hosted_shop(backend, |s| s.payment.hosted.capture = CaptureMode::Manual).await
}

/// Another node on the same database that talks to the first node's
/// provider, as every node of a shop talks to the one real provider.
async fn second_node(app: &TestApp) -> TestApp {
    let mut settings = app.settings.clone();
    settings.sandbox.serve_beside_shop = false;
    settings.payment.hosted.api_url = app.sandbox.clone().expect("a sandbox");
    start_node_with(settings, app.resources.clone(), app.gateways.clone()).await
}

async fn sheet(app: &TestApp, number: &str) -> StaffOrder {
    fulfilment::order_sheet(&app.shop, number)
        .await
        .unwrap()
        .expect("order")
        .stored
}

async fn act(app: &TestApp, number: &str, command: Command, actor: &str) -> Outcome {
    fulfilment::act(&app.shop, number, None, &command, actor)
        .await
        .unwrap()
        .expect("order exists")
}

async fn deliver_lines(app: &TestApp, number: &str, lines: Vec<(i64, i64)>) -> String {
    let before: Vec<String> = sheet(app, number)
        .await
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let command = Command::CreateDelivery {
        lines,
        carrier: Some("DHL".into()),
        tracking_number: Some("JJD000123".into()),
    };
    assert_eq!(act(app, number, command, STAFF).await, Outcome::Done);
    sheet(app, number)
        .await
        .deliveries
        .into_iter()
        .map(|d| d.id)
        .find(|id| !before.contains(id))
        .expect("a new delivery")
}

fn delivered(delivery_id: &str) -> Command {
    Command::MoveDelivery {
        delivery_id: delivery_id.to_owned(),
        to: DeliveryStatus::Delivered,
    }
}

/// The provider's record of the order's payment session.
async fn provider_session(app: &TestApp, number: &str) -> serde_json::Value {
    let reference = app
        .order(number)
        .await
        .payment
        .unwrap()
        .provider_reference
        .expect("provider reference");
    app.client
        .get(format!(
            "{}/v1/sessions/{reference}",
            app.sandbox.as_ref().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The captures the provider made for the order's payment, one per
/// operation key (a key sent twice, as retries may, is one capture).
pub(crate) async fn provider_captures(app: &TestApp, number: &str) -> Vec<i64> {
    let session = provider_session(app, number).await;
    session["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "capture" && o["outcome"]["result"] == "done")
        .map(|o| o["amount_minor"].as_i64().unwrap())
        .collect()
}

async fn the_seed_story_captures_each_delivery_and_the_last_one_the_rest(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 2)]).await;
    let order = app.order(&number).await;
    let total = order.totals.total.minor;
    assert_eq!(order.status, OrderStatus::Placed);

    let first = deliver_lines(&app, &number, vec![(0, 1)]).await;
    let second = deliver_lines(&app, &number, vec![(1, 2)]).await;
    assert_eq!(
        act(&app, &number, delivered(&first), WAREHOUSE).await,
        Outcome::Done
    );
    let after_first = app.order(&number).await;
    let first_capture = after_first.payment.as_ref().unwrap().captured_minor;
    assert!(
        first_capture > 0 && first_capture < total,
        "{first_capture} of {total}"
    );
    assert_eq!(after_first.status, OrderStatus::PartiallyPaid);

    assert_eq!(
        act(&app, &number, delivered(&second), STAFF).await,
        Outcome::Done
    );
    let done = app.order(&number).await;
    assert_eq!(done.payment.as_ref().unwrap().captured_minor, total);
    assert_eq!(done.status, OrderStatus::Completed);

    let session = provider_session(&app, &number).await;
    let captures: Vec<i64> = session["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "capture")
        .map(|o| o["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(captures.len(), 2, "{session}");
    assert_eq!(captures.iter().sum::<i64>(), total);
    assert_eq!(session["captured_minor"].as_i64(), Some(total));

    let stored = sheet(&app, &number).await;
    let kinds: Vec<&str> = stored.timeline.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "order.placed",
        "webhook",
        "outbox",
        "delivery.delivered",
        "payment.capture",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing in {kinds:?}");
    }
    assert!(
        stored.timeline.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first"
    );
    let actors: Vec<&str> = stored.timeline.iter().map(|e| e.actor.as_str()).collect();
    assert!(
        actors.contains(&WAREHOUSE) && actors.contains(&STAFF),
        "{actors:?}"
    );
    assert!(
        stored
            .operations
            .iter()
            .all(|o| o.status == OperationStatus::Done)
    );
}

async fn a_stale_form_saves_nothing_and_names_who_changed_it(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let shown = app.order(&number).await.version;
    deliver_lines(&app, &number, vec![(0, 1)]).await;
    let outcome = fulfilment::act(
        &app.shop,
        &number,
        Some(shown),
        &Command::Cancel,
        "other@kassa.example",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome, Outcome::Stale { by: STAFF.into() });
    assert_eq!(
        app.order(&number).await.status,
        OrderStatus::Placed,
        "nothing saved"
    );
}

async fn two_carriers_reporting_delivered_capture_once(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
    let (a, b) = tokio::join!(
        act(&app, &number, delivered(&delivery), "API key carrier-a"),
        act(&app, &number, delivered(&delivery), "API key carrier-b"),
    );
    assert_eq!((a, b), (Outcome::Done, Outcome::Done));
    // And once more, late.
    assert_eq!(
        act(&app, &number, delivered(&delivery), WAREHOUSE).await,
        Outcome::Done
    );
    let order = app.order(&number).await;
    assert_eq!(
        order.payment.unwrap().captured_minor,
        order.totals.total.minor
    );
    assert_eq!(provider_captures(&app, &number).await.len(), 1);
    let stored = sheet(&app, &number).await;
    assert_eq!(stored.operations.len(), 1, "{:?}", stored.operations);
}

async fn delivered_on_two_nodes_at_once_captures_once(backend: Backend) {
    let app = manual_shop(backend).await;
    let other = second_node(&app).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 1)]).await;
    let first = deliver_lines(&app, &number, vec![(0, 1)]).await;
    let second = deliver_lines(&app, &number, vec![(1, 1)]).await;
    // Both deliveries delivered at once on two nodes, each twice.
    let outcomes = tokio::join!(
        act(&app, &number, delivered(&first), "API key a"),
        act(&other, &number, delivered(&second), "API key b"),
        act(&other, &number, delivered(&first), "API key c"),
        act(&app, &number, delivered(&second), "API key d"),
    );
    assert_eq!(
        outcomes,
        (Outcome::Done, Outcome::Done, Outcome::Done, Outcome::Done)
    );
    let order = app.order(&number).await;
    let total = order.totals.total.minor;
    let operations = sheet(&app, &number).await.operations;
    assert_eq!(
        order.payment.unwrap().captured_minor,
        total,
        "{operations:?}"
    );
    assert_eq!(order.status, OrderStatus::Completed);
    let session = provider_session(&app, &number).await;
    assert_eq!(session["captured_minor"].as_i64(), Some(total));
    assert_eq!(provider_captures(&app, &number).await.len(), 2);
}

async fn a_cancel_racing_a_capture_ends_with_the_money_back(backend: Backend) {
    for cancel_first in [true, false] {
        let app = manual_shop(backend).await;
        let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
        let stock = app.stock_of("hand-grinder").await;
        let cancel = act(&app, &number, Command::Cancel, STAFF);
        let capture = act(&app, &number, Command::Capture, "other@kassa.example");
        let (cancelled, captured) = if cancel_first {
            let c = cancel.await;
            (c, capture.await)
        } else {
            let c = capture.await;
            (cancel.await, c)
        };
        let order = app.order(&number).await;
        let payment = order.payment.clone().unwrap();
        if cancel_first {
            assert_eq!(cancelled, Outcome::Done);
            assert!(matches!(captured, Outcome::Refused(_)), "{captured:?}");
            assert_eq!(payment.captured_minor, 0);
            assert!(payment.released);
        } else {
            assert_eq!(captured, Outcome::Done);
            assert_eq!(cancelled, Outcome::Done);
            assert_eq!(
                payment.refunded_minor, payment.captured_minor,
                "money taken went back"
            );
        }
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(app.stock_of("hand-grinder").await, stock + 1);
    }
    // At once: whichever wins, the order ends cancelled with no money kept.
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    tokio::join!(
        act(&app, &number, Command::Cancel, STAFF),
        act(&app, &number, Command::Capture, "other@kassa.example"),
    );
    let order = app.order(&number).await;
    let payment = order.payment.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(payment.captured_minor - payment.refunded_minor, 0);
    let session = provider_session(&app, &number).await;
    assert_eq!(
        session["captured_minor"].as_i64().unwrap() - session["refunded_minor"].as_i64().unwrap(),
        0,
        "{session}"
    );
}

async fn a_refused_capture_is_shown_with_its_reason(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    fail_next_capture(&app, "The reservation has expired").await;
    assert_eq!(
        act(&app, &number, Command::Capture, STAFF).await,
        Outcome::Done
    );
    let stored = sheet(&app, &number).await;
    let operation = &stored.operations[0];
    assert_eq!(operation.status, OperationStatus::Refused);
    assert_eq!(
        operation.reason.as_deref(),
        Some("The reservation has expired")
    );
    assert!(
        stored
            .timeline
            .iter()
            .any(|e| e.detail.contains("The reservation has expired")),
        "{:?}",
        stored.timeline
    );
    assert_eq!(app.order(&number).await.payment.unwrap().captured_minor, 0);
    // The next try is a new operation and goes through.
    assert_eq!(
        act(&app, &number, Command::Capture, STAFF).await,
        Outcome::Done
    );
    let order = app.order(&number).await;
    assert_eq!(
        order.payment.unwrap().captured_minor,
        order.totals.total.minor
    );
}

async fn refunds_never_exceed_what_was_captured(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let refused = act(&app, &number, Command::Refund { amount_minor: 100 }, STAFF).await;
    assert!(
        matches!(refused, Outcome::Refused(_)),
        "nothing captured yet"
    );
    act(&app, &number, Command::Capture, STAFF).await;
    let total = app.order(&number).await.totals.total.minor;
    let too_much = act(
        &app,
        &number,
        Command::Refund {
            amount_minor: total + 1,
        },
        STAFF,
    )
    .await;
    assert!(matches!(too_much, Outcome::Refused(_)), "{too_much:?}");
    // Two refunds at once that together are too much: one is refused.
    let (a, b) = tokio::join!(
        act(
            &app,
            &number,
            Command::Refund {
                amount_minor: total - 100
            },
            STAFF
        ),
        act(
            &app,
            &number,
            Command::Refund {
                amount_minor: total - 100
            },
            STAFF
        ),
    );
    assert_eq!(
        [&a, &b].iter().filter(|o| ***o == Outcome::Done).count(),
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(
        act(&app, &number, Command::Refund { amount_minor: 100 }, STAFF).await,
        Outcome::Done
    );
    let order = app.order(&number).await;
    assert_eq!(order.payment.unwrap().refunded_minor, total);
    assert_eq!(order.status, OrderStatus::Refunded);
}

async fn cash_in_advance_waits_for_mark_as_paid(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.add_to_cart("hand-grinder", 1).await;
    let success = app
        .buy(&with(
            checkout_form(),
            "payment_method",
            "offline:cash_in_advance",
        ))
        .await;
    let number = order_number(&success);
    assert_eq!(app.order(&number).await.status, OrderStatus::OnHold);
    let early = act(
        &app,
        &number,
        Command::CreateDelivery {
            lines: vec![(0, 1)],
            carrier: None,
            tracking_number: None,
        },
        STAFF,
    )
    .await;
    assert!(
        matches!(early, Outcome::Refused(_)),
        "nothing ships before the money"
    );
    let (a, b) = tokio::join!(
        act(&app, &number, Command::MarkPaid, STAFF),
        act(&app, &number, Command::MarkPaid, "other@kassa.example"),
    );
    assert!(a == Outcome::Done || b == Outcome::Done);
    let order = app.order(&number).await;
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(
        order.payment.unwrap().captured_minor,
        order.totals.total.minor,
        "paid once"
    );
    let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
    act(&app, &number, delivered(&delivery), WAREHOUSE).await;
    assert_eq!(app.order(&number).await.status, OrderStatus::Completed);
}

async fn cash_on_delivery_is_collected_after_delivery(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.add_to_cart("hand-grinder", 1).await;
    let success = app
        .buy(&with(
            checkout_form(),
            "payment_method",
            "offline:cash_on_delivery",
        ))
        .await;
    let number = order_number(&success);
    let too_soon = act(&app, &number, Command::MarkCollected, STAFF).await;
    assert!(matches!(too_soon, Outcome::Refused(_)), "{too_soon:?}");
    let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
    act(&app, &number, delivered(&delivery), WAREHOUSE).await;
    assert_eq!(app.order(&number).await.status, OrderStatus::Shipped);
    assert_eq!(
        act(&app, &number, Command::MarkCollected, STAFF).await,
        Outcome::Done
    );
    assert_eq!(app.order(&number).await.status, OrderStatus::Completed);
}

async fn an_unpaid_transfer_is_cancelled_after_its_days(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.payment.offline.cash_in_advance_days = 3).await;
    let stock = app.stock_of("hand-grinder").await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        app.add_to_cart("hand-grinder", 1).await;
        let success = app
            .buy(&with(
                checkout_form(),
                "payment_method",
                "offline:cash_in_advance",
            ))
            .await;
        numbers.push(order_number(&success));
    }
    let (old, paid_old, young) = (&numbers[0], &numbers[1], &numbers[2]);
    let four_days = time::Duration::days(4);
    app.shop.store().age_order(old, four_days).await.unwrap();
    app.shop
        .store()
        .age_order(paid_old, four_days)
        .await
        .unwrap();
    act(&app, paid_old, Command::MarkPaid, STAFF).await;
    let cancelled = fulfilment::expire_unpaid_transfers(&app.shop)
        .await
        .unwrap();
    assert_eq!(cancelled, 1);
    assert_eq!(app.order(old).await.status, OrderStatus::Cancelled);
    assert_eq!(app.order(paid_old).await.status, OrderStatus::Paid);
    assert_eq!(app.order(young).await.status, OrderStatus::OnHold);
    assert_eq!(
        app.stock_of("hand-grinder").await,
        stock - 2,
        "the cancelled one's back"
    );
    let timeline = sheet(&app, old).await.timeline;
    assert!(
        timeline
            .iter()
            .any(|e| e.actor == "system" && e.detail.contains("not paid in time")),
        "{timeline:?}"
    );
    // Run again (another node): nothing more happens.
    assert_eq!(
        fulfilment::expire_unpaid_transfers(&app.shop)
            .await
            .unwrap(),
        0
    );
}

async fn a_staff_cancel_gives_the_voucher_use_back(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let uses = async || {
        app.shop
            .store()
            .voucher("WELCOME10")
            .await
            .unwrap()
            .unwrap()
            .uses
    };
    app.add_to_cart("hand-grinder", 1).await;
    let success = app
        .buy(&with(checkout_form(), "voucher_code", "WELCOME10"))
        .await;
    let number = order_number(&success);
    assert_eq!(uses().await, 1);
    assert_eq!(
        act(&app, &number, Command::Cancel, STAFF).await,
        Outcome::Done
    );
    assert_eq!(uses().await, 0);
    // A second cancel changes nothing.
    assert_eq!(
        act(&app, &number, Command::Cancel, STAFF).await,
        Outcome::Done
    );
    assert_eq!(uses().await, 0);
}

/// The provider's "captured" webhook before, during and after the
/// delivery that causes the capture: one capture, the order completed.
async fn a_capture_webhook_racing_delivered_changes_nothing_twice(backend: Backend) {
    for arrival in ["before", "together", "after"] {
        let app = manual_shop(backend).await;
        let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
        let session = app
            .order(&number)
            .await
            .payment
            .unwrap()
            .provider_reference
            .unwrap();
        let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
        let webhook = || {
            send_event(
                &app,
                &format!("evt-{arrival}"),
                "payment.captured",
                &session,
            )
        };
        match arrival {
            "before" => {
                assert!(webhook().await.unwrap().status().is_success());
                assert_eq!(
                    act(&app, &number, delivered(&delivery), WAREHOUSE).await,
                    Outcome::Done
                );
            }
            "together" => {
                let (hook, outcome) = tokio::join!(
                    webhook(),
                    act(&app, &number, delivered(&delivery), WAREHOUSE)
                );
                assert!(hook.unwrap().status().is_success());
                assert_eq!(outcome, Outcome::Done);
            }
            _ => {
                assert_eq!(
                    act(&app, &number, delivered(&delivery), WAREHOUSE).await,
                    Outcome::Done
                );
                assert!(webhook().await.unwrap().status().is_success());
            }
        }
        let order = app.order(&number).await;
        let total = order.totals.total.minor;
        assert_eq!(order.payment.unwrap().captured_minor, total, "{arrival}");
        assert_eq!(order.status, OrderStatus::Completed, "{arrival}");
        assert_eq!(provider_captures(&app, &number).await, [total], "{arrival}");
    }
}

async fn a_provider_that_is_down_gets_the_capture_once_it_is_back(backend: Backend) {
    let app = hosted_shop(backend, |s| {
        s.payment.hosted.capture = CaptureMode::Manual;
        s.outbox.poll_ms = 50;
        s.outbox.retry_base_ms = 50;
        s.outbox.retry_max_ms = 200;
    })
    .await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
    knobs(&app, serde_json::json!({ "down": true })).await;
    // Saved as asked; the provider does not answer.
    assert_eq!(
        act(&app, &number, delivered(&delivery), WAREHOUSE).await,
        Outcome::Done
    );
    let waiting = sheet(&app, &number).await.operations;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status, OperationStatus::Requested);
    assert_eq!(app.order(&number).await.payment.unwrap().captured_minor, 0);
    // Nothing more can be captured meanwhile: the request counts.
    let again = act(&app, &number, Command::Capture, STAFF).await;
    assert!(matches!(again, Outcome::Refused(_)), "{again:?}");
    knobs(&app, serde_json::json!({ "down": false })).await;
    wait_for("the outbox to send the capture", async || {
        app.order(&number).await.payment.unwrap().captured_minor > 0
    })
    .await;
    let order = app.order(&number).await;
    assert_eq!(
        order.payment.unwrap().captured_minor,
        order.totals.total.minor
    );
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(provider_captures(&app, &number).await.len(), 1);
}

/// Staff cancel an order that waits for its convenience-store payment,
/// and the shopper pays at the store all the same: the money goes back.
async fn a_store_payment_made_after_a_cancel_is_refunded(backend: Backend) {
    let app = hosted_shop(backend, |_| {}).await;
    let pay_url = to_the_provider(&app, "convenience_store").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = choose(&app, &pay_url, "convenience_store").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let number = order_number(&success);
    assert_eq!(app.order(&number).await.status, OrderStatus::OnHold);
    assert_eq!(
        act(&app, &number, Command::Cancel, STAFF).await,
        Outcome::Done
    );
    let paid = format!(
        "{}/console/{session_id}/paid",
        app.sandbox.as_ref().unwrap()
    );
    app.client.post(paid).send().await.unwrap();
    let total = app.order(&number).await.totals.total.minor;
    wait_for("the late money refunded", async || {
        let payment = app.order(&number).await.payment.unwrap();
        payment.captured_minor == total && payment.refunded_minor == total
    })
    .await;
    assert_eq!(app.order(&number).await.status, OrderStatus::Cancelled);
    let refunds: Vec<i64> = provider_session(&app, &number).await["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "refund" && o["outcome"]["result"] == "done")
        .map(|o| o["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(refunds, vec![total], "refunded once, in full");
}

/// A capture on its way when staff cancel, refused by the provider later:
/// what it held is released, not left reserved.
async fn a_capture_refused_after_a_cancel_releases_the_reservation(backend: Backend) {
    let app = hosted_shop(backend, |s| {
        s.payment.hosted.capture = CaptureMode::Manual;
        s.outbox.poll_ms = 50;
        s.outbox.retry_base_ms = 50;
        s.outbox.retry_max_ms = 200;
    })
    .await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    knobs(&app, serde_json::json!({ "down": true })).await;
    assert_eq!(
        act(&app, &number, Command::Capture, STAFF).await,
        Outcome::Done
    );
    assert_eq!(
        act(&app, &number, Command::Cancel, STAFF).await,
        Outcome::Done
    );
    fail_next_capture(&app, "The reservation has expired").await;
    knobs(&app, serde_json::json!({ "down": false })).await;
    wait_for("the reservation released", async || {
        app.order(&number).await.payment.unwrap().released
    })
    .await;
    let order = app.order(&number).await;
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(order.payment.unwrap().captured_minor, 0);
    let kinds: Vec<String> = sheet(&app, &number)
        .await
        .operations
        .iter()
        .map(|o| format!("{}:{:?}", o.kind.as_str(), o.status))
        .collect();
    assert_eq!(kinds, vec!["capture:Refused", "release:Done"], "{kinds:?}");
}

/// The place-order process settles the order and then saves its step; a
/// node killed between the two (or before settling) leaves the step to be
/// run again when the lease expires, by then possibly after the order was
/// delivered and captured. That late settlement must not move the order
/// back (its other work, events and mails, is done as it may never have
/// been; mails are queued once).
async fn a_settlement_repeated_after_delivery_leaves_the_order_completed(backend: Backend) {
    let app = manual_shop(backend).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let delivery = deliver_lines(&app, &number, vec![(0, 1)]).await;
    assert_eq!(
        act(&app, &number, delivered(&delivery), WAREHOUSE).await,
        Outcome::Done
    );
    wait_for("the capture", async || {
        app.order(&number).await.status == OrderStatus::Completed
    })
    .await;
    let store = app.shop.store();
    wait_for("the outbox drained", async || {
        store.count_pending_outbox().await.unwrap() == 0
    })
    .await;
    let mails = store
        .order_mails(&app.order(&number).await.id)
        .await
        .unwrap()
        .len();

    let order = app.order(&number).await;
    let process = app.latest_process().await;
    store
        .settle_order(
            &order.id,
            Some(process.context.idempotency_key.as_str()),
            Settlement {
                payment_status: PaymentStatus::Authorized,
                order_status: OrderStatus::Placed,
            },
            None,
        )
        .await
        .unwrap();

    let after = app.order(&number).await;
    assert_eq!(after.status, OrderStatus::Completed, "not back to placed");
    assert_eq!(after.payment.unwrap().captured_minor, 8900);
    assert_eq!(
        store.order_mails(&order.id).await.unwrap().len(),
        mails,
        "the confirmation is not queued twice"
    );
}
