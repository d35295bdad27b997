//! The back office's pages over HTTP, as a signed-in staff member sees
//! them: the dashboard's figures, the order list's filters, search and
//! pages, and the order page's buttons, each sent as the browser sends
//! the form (CSRF token and the version the page showed).

use crate::back_office::{manual_shop, reserved_card_order};
use crate::helpers::*;
use crate::hosted::fail_next_capture;
use kassa::domain::order::OrderStatus;
use reqwest::StatusCode;

on_both_backends!(
    the_list_filters_searches_and_keeps_its_filters_in_the_page_links,
    the_dashboard_counts_the_orders_of_the_day,
);

const STAFF: &str = "admin@kassa.example";
const STALE: &str = "This order was changed meanwhile by admin@kassa.example; nothing was saved.";

/// `app` with a client of its own, signed in as the demo staff member.
pub(crate) async fn signed_in_staff(app: &TestApp) -> TestApp {
    let staff = app.with_client(&client());
    let page = staff.get_html("/admin/login").await;
    let response = staff
        .client
        .post(staff.url("/admin/login"))
        .form(&[
            ("csrf_token", csrf_token(&page).as_str()),
            ("email", STAFF),
            ("password", "kassa-demo"),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_redirect(&response, "/admin");
    staff
}

/// The text inside the first element marked `data-testid="{id}"`.
pub(crate) fn testid(html: &str, id: &str) -> Option<String> {
    let marker = format!("data-testid=\"{id}\"");
    let start = html.find(&marker)? + marker.len();
    let rest = &html[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim().to_owned())
}

fn has(html: &str, id: &str) -> bool {
    html.contains(&format!("data-testid=\"{id}\""))
}

/// The order numbers a list page shows, in its order.
fn listed(html: &str) -> Vec<String> {
    html.split("data-testid=\"order-link\">")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .map(str::to_owned)
        .collect()
}

/// The order version the page's forms carry.
pub(crate) fn version_on(html: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let start = html.find(marker).expect("a form with the version") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The id of the page's first delivery (from its buttons' action).
pub(crate) fn delivery_on(html: &str, number: &str) -> String {
    let marker = format!("action=\"/admin/orders/{number}/deliveries/");
    let start = html.find(&marker).expect("a delivery button") + marker.len();
    html[start..].split('/').next().unwrap().to_owned()
}

/// The staff member's page of `number`.
pub(crate) async fn order_page(staff: &TestApp, number: &str) -> String {
    let response = staff.get(&format!("/admin/orders/{number}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Sends a form of the order page as shown now (its token and version),
/// with `fields`, to `path` under the order.
pub(crate) async fn press(
    staff: &TestApp,
    number: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = order_page(staff, number).await;
    press_on(staff, &page, number, path, fields).await
}

/// Sends a form as the page `page` showed it.
pub(crate) async fn press_on(
    staff: &TestApp,
    page: &str,
    number: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = csrf_token(page);
    let version = version_on(page);
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token), ("version", &version)];
    form.extend_from_slice(fields);
    staff
        .client
        .post(staff.url(&format!("/admin/orders/{number}{path}")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[track_caller]
fn assert_done(response: &reqwest::Response, number: &str, done: &str) {
    assert_redirect(response, &format!("/admin/orders/{number}?done={done}"));
}

async fn buy_with(app: &TestApp, product: &str, quantity: i64, form: &[(&str, String)]) -> String {
    app.add_to_cart(product, quantity).await;
    order_number(&app.buy(form).await)
}

fn customer(first: &str, last: &str, email: &str, payment: &str) -> Vec<(&'static str, String)> {
    let form = with(checkout_form(), "billing_first_name", first);
    let form = with(form, "billing_last_name", last);
    let form = with(form, "email", email);
    with(form, "payment_method", payment)
}

async fn list(staff: &TestApp, query: &str) -> String {
    let response = staff.get(&format!("/admin/orders{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.text().await.unwrap()
}

async fn the_list_filters_searches_and_keeps_its_filters_in_the_page_links(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let ann = customer("Ann", "Lee", "ann@example.com", "offline:cash_on_delivery");
    // The first of Ann's orders has two items, to be delivered in parts.
    let mut anns = vec![buy_with(&app, "filter-papers", 2, &ann).await];
    for _ in 0..25 {
        anns.push(buy_with(&app, "filter-papers", 1, &ann).await);
    }
    let bob = customer("Bob", "Stone", "bob@example.org", "offline:cash_in_advance");
    let bobs = buy_with(&app, "espresso-cup", 1, &bob).await;
    let staff = signed_in_staff(&app).await;

    // Newest first, 25 a page.
    let first = list(&staff, "").await;
    assert_eq!(
        testid(&first, "order-count").as_deref(),
        Some("27 orders, page 1 of 2")
    );
    let shown = listed(&first);
    assert_eq!(shown.len(), 25);
    assert_eq!(shown[0], bobs);
    assert_eq!(shown[1], anns[25]);
    assert!(first.contains("href=\"/admin/orders?page=2\""), "{first}");
    let second = list(&staff, "?page=2").await;
    assert_eq!(listed(&second), vec![anns[1].clone(), anns[0].clone()]);
    // Past the last page: the last page.
    assert_eq!(listed(&list(&staff, "?page=99").await), listed(&second));
    // Junk is no filter.
    assert_eq!(listed(&list(&staff, "?status=nope&page=x").await), shown);

    // Status, work queue and payment.
    assert_eq!(
        listed(&list(&staff, "?status=on_hold").await),
        vec![bobs.clone()]
    );
    assert_eq!(
        listed(&list(&staff, "?queue=awaiting_payment").await),
        vec![bobs.clone()]
    );
    assert_eq!(
        testid(&list(&staff, "?payment=pending").await, "order-count").as_deref(),
        Some("27 orders, page 1 of 2")
    );
    assert!(listed(&list(&staff, "?payment=captured").await).is_empty());

    // Search by name (over two fields), e-mail and number.
    assert_eq!(
        listed(&list(&staff, "?q=Bob+Stone").await),
        vec![bobs.clone()]
    );
    assert_eq!(
        listed(&list(&staff, "?q=EXAMPLE.ORG").await),
        vec![bobs.clone()]
    );
    assert_eq!(
        listed(&list(&staff, &format!("?q={}", anns[3])).await),
        vec![anns[3].clone()]
    );
    assert!(listed(&list(&staff, "?q=nobody").await).is_empty());
    // LIKE's wildcards are taken literally.
    assert!(listed(&list(&staff, "?q=%25").await).is_empty());
    let anns_page = list(&staff, "?q=ann+lee").await;
    assert_eq!(
        testid(&anns_page, "order-count").as_deref(),
        Some("26 orders, page 1 of 2")
    );
    assert!(
        anns_page.contains("href=\"/admin/orders?q=ann+lee&#38;page=2\""),
        "the search stays in the page links: {anns_page}"
    );
    let mixed = list(&staff, "?q=ann&status=on_hold").await;
    assert!(listed(&mixed).is_empty(), "every filter must hold");

    // Deliveries: one order delivered and paid, one with everything in a
    // created delivery, one with part of it.
    let done = &anns[5];
    assert_done(
        &press(&staff, done, "/deliveries", &[("qty_0", "1")]).await,
        done,
        "delivery_created",
    );
    let page = order_page(&staff, done).await;
    let delivery = delivery_on(&page, done);
    let path = format!("/deliveries/{delivery}/status");
    assert_done(
        &press_on(&staff, &page, done, &path, &[("status", "delivered")]).await,
        done,
        "delivered",
    );
    assert_done(
        &press(&staff, done, "/mark-collected", &[]).await,
        done,
        "collected",
    );
    let waiting = &anns[6];
    press(&staff, waiting, "/deliveries", &[("qty_0", "1")]).await;
    let part = &anns[0];
    press(&staff, part, "/deliveries", &[("qty_0", "1")]).await;

    assert_eq!(
        listed(&list(&staff, "?payment=captured").await),
        vec![done.clone()]
    );
    assert_eq!(
        listed(&list(&staff, "?delivery=delivered").await),
        vec![done.clone()]
    );
    assert_eq!(
        listed(&list(&staff, "?delivery=created").await),
        vec![waiting.clone(), part.clone()]
    );
    assert_eq!(
        testid(&list(&staff, "?delivery=none").await, "order-count").as_deref(),
        Some("24 orders")
    );
    // To ship: Ann's placed orders with goods in no delivery (the partly
    // delivered one still counts), not the finished one or the one
    // fully in a delivery.
    let to_ship = list(&staff, "?queue=to_ship").await;
    assert_eq!(
        testid(&to_ship, "order-count").as_deref(),
        Some("24 orders")
    );
    assert!(listed(&to_ship).contains(part));
    assert!(!listed(&to_ship).contains(done) && !listed(&to_ship).contains(waiting));
}

async fn the_dashboard_counts_the_orders_of_the_day(backend: Backend) {
    let app = manual_shop(backend).await;
    let reserved = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let shopper = app.with_client(&client());
    let in_advance = buy_with(
        &shopper,
        "milk-jug",
        1,
        &with(checkout_form(), "payment_method", "offline:cash_in_advance"),
    )
    .await;
    let on_delivery = buy_with(
        &app.with_client(&client()),
        "espresso-cup",
        2,
        &checkout_form(),
    )
    .await;
    let refused = reserved_card_order(&app.with_client(&client()), &[("filter-papers", 3)]).await;
    let cancelled = buy_with(
        &app.with_client(&client()),
        "house-blend",
        1,
        &checkout_form(),
    )
    .await;
    let staff = signed_in_staff(&app).await;

    // A capture the provider refuses is a payment problem.
    fail_next_capture(&app, "The card was reported stolen").await;
    assert_done(
        &press(&staff, &refused, "/capture", &[]).await,
        &refused,
        "captured",
    );
    assert_done(
        &press(&staff, &cancelled, "/cancel", &[]).await,
        &cancelled,
        "cancelled",
    );

    let mut expected = 0;
    for number in [&reserved, &in_advance, &on_delivery, &refused] {
        expected += app.order(number).await.totals.total.minor;
    }
    let money = |minor: i64| format!("{}.{:02} EUR", minor / 100, minor % 100);
    let dashboard = staff.get_html("/admin").await;
    assert_eq!(testid(&dashboard, "revenue-today"), Some(money(expected)));
    assert_eq!(testid(&dashboard, "orders-today").as_deref(), Some("4"));
    assert_eq!(testid(&dashboard, "revenue-week"), Some(money(expected)));
    assert_eq!(testid(&dashboard, "orders-week").as_deref(), Some("4"));
    assert_eq!(
        testid(&dashboard, "count-awaiting-payment").as_deref(),
        Some("1")
    );
    assert_eq!(testid(&dashboard, "count-to-ship").as_deref(), Some("3"));
    assert_eq!(
        testid(&dashboard, "count-payment-problems").as_deref(),
        Some("1")
    );
    // The chart, and the table beside it with today's row.
    assert!(
        dashboard.contains("<title id=\"chart-title\">"),
        "{dashboard}"
    );
    let today = kassa::clock::now().date().to_string();
    assert!(
        dashboard.contains(&format!(
            "<th scope=\"row\">{today}</th><td class=\"num\">4</td><td class=\"num\">{}</td>",
            money(expected)
        )),
        "{dashboard}"
    );
    // Each count links to its list, which shows the same orders.
    assert!(dashboard.contains("href=\"/admin/orders?queue=payment_problems\""));
    assert_eq!(
        listed(&list(&staff, "?queue=payment_problems").await),
        vec![refused.clone()]
    );
    let mut to_ship = listed(&list(&staff, "?queue=to_ship").await);
    to_ship.sort();
    let mut expected_to_ship = vec![reserved.clone(), on_delivery.clone(), refused.clone()];
    expected_to_ship.sort();
    assert_eq!(to_ship, expected_to_ship);
    // A capture that went through settles the problem.
    assert_done(
        &press(&staff, &refused, "/capture", &[]).await,
        &refused,
        "captured",
    );
    let dashboard = staff.get_html("/admin").await;
    assert_eq!(
        testid(&dashboard, "count-payment-problems").as_deref(),
        Some("0")
    );
    assert_eq!(
        app.order(&cancelled).await.status,
        OrderStatus::Cancelled,
        "the cancelled order is not counted"
    );
}

#[tokio::test]
async fn strangers_are_sent_to_the_login_page_from_every_page_and_button() {
    let app = spawn_app(Backend::Sqlite).await;
    app.add_to_cart("hand-grinder", 1).await;
    let number = order_number(&app.buy(&checkout_form()).await);
    let version = app.order(&number).await.version;
    let stranger = app.with_client(&client());
    for path in [
        "/admin".to_owned(),
        "/admin/orders?status=paid".to_owned(),
        format!("/admin/orders/{number}"),
    ] {
        let query = serde_urlencoded::to_string([("next", path.as_str())]).unwrap();
        assert_redirect(&stranger.get(&path).await, &format!("/admin/login?{query}"));
    }
    for action in [
        "/deliveries",
        "/deliveries/some-delivery/status",
        "/capture",
        "/cancel",
        "/refund",
        "/mark-paid",
        "/mark-collected",
    ] {
        let response = stranger
            .client
            .post(stranger.url(&format!("/admin/orders/{number}{action}")))
            .form(&[
                ("csrf_token", "x"),
                ("version", "1"),
                ("status", "delivered"),
            ])
            .send()
            .await
            .unwrap();
        assert_redirect(&response, "/admin/login?next=%2Fadmin");
    }
    assert_eq!(app.order(&number).await.version, version, "nothing changed");
}

#[tokio::test]
async fn a_reserved_card_order_is_delivered_and_refunded_through_its_buttons() {
    let app = manual_shop(Backend::Sqlite).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let total = app.order(&number).await.totals.total.to_string();
    let staff = signed_in_staff(&app).await;

    let page = order_page(&staff, &number).await;
    for shown in ["create-delivery", "capture", "cancel"] {
        assert!(has(&page, shown), "{shown} is offered: {page}");
    }
    for hidden in ["refund", "mark-paid", "mark-collected"] {
        assert!(!has(&page, hidden), "{hidden} is not offered: {page}");
    }
    assert_eq!(testid(&page, "payment-state").as_deref(), Some("Reserved"));
    assert_eq!(testid(&page, "reserved"), Some(total.clone()));
    // The open quantity is filled in.
    assert!(
        page.contains(
            "name=\"qty_0\" class=\"qty\" type=\"text\" inputmode=\"numeric\" value=\"1\""
        ),
        "{page}"
    );

    let created = press_on(
        &staff,
        &page,
        &number,
        "/deliveries",
        &[
            ("qty_0", "1"),
            ("carrier", "DHL"),
            ("tracking_number", "JJD0001"),
        ],
    )
    .await;
    assert_done(&created, &number, "delivery_created");
    let page = staff
        .get_html(&format!("/admin/orders/{number}?done=delivery_created"))
        .await;
    assert_eq!(
        testid(&page, "notice").as_deref(),
        Some("Delivery created.")
    );
    assert_eq!(testid(&page, "delivery-status").as_deref(), Some("Created"));
    assert!(page.contains("JJD0001"));
    for button in [
        "delivery-shipped",
        "delivery-delivered",
        "delivery-cancelled",
    ] {
        assert!(has(&page, button), "{button}");
    }
    assert!(!has(&page, "create-delivery"), "nothing left to deliver");

    let delivery = delivery_on(&page, &number);
    let path = format!("/deliveries/{delivery}/status");
    assert_done(
        &press(&staff, &number, &path, &[("status", "shipped")]).await,
        &number,
        "shipped",
    );
    let page = order_page(&staff, &number).await;
    assert_eq!(testid(&page, "delivery-status").as_deref(), Some("Shipped"));
    assert!(!has(&page, "delivery-shipped") && !has(&page, "delivery-cancelled"));
    assert!(!has(&page, "cancel"), "goods have left: no cancel");
    assert_done(
        &press_on(&staff, &page, &number, &path, &[("status", "delivered")]).await,
        &number,
        "delivered",
    );
    let page = order_page(&staff, &number).await;
    assert_eq!(testid(&page, "captured"), Some(total.clone()));
    assert_eq!(testid(&page, "order-status").as_deref(), Some("Completed"));
    assert_eq!(testid(&page, "payment-state").as_deref(), Some("Captured"));
    assert!(has(&page, "refund") && !has(&page, "capture"));
    assert!(
        page.contains(&format!("Captured {total}")),
        "the timeline says so: {page}"
    );

    // A refund of a part, typed as a person types it.
    assert_done(
        &press(&staff, &number, "/refund", &[("amount", " 1,5 ")]).await,
        &number,
        "refunded",
    );
    assert_eq!(
        app.order(&number).await.payment.unwrap().refunded_minor,
        150
    );
    // Junk is refused next to the field, kept in it, and changes nothing.
    let junk = press(&staff, &number, "/refund", &[("amount", "12.3x")]).await;
    assert_eq!(junk.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = junk.text().await.unwrap();
    assert!(
        testid(&html, "problem-refund")
            .unwrap()
            .starts_with("Please enter an amount like 12.34"),
        "{html}"
    );
    assert!(html.contains("value=\"12.3x\""), "{html}");
    // More than was captured: the use case's reason, next to the field.
    let too_much = press(&staff, &number, "/refund", &[("amount", "10000")]).await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = too_much.text().await.unwrap();
    assert!(
        testid(&html, "problem-refund")
            .unwrap()
            .starts_with("At most "),
        "{html}"
    );
    assert_eq!(
        app.order(&number).await.payment.unwrap().refunded_minor,
        150
    );
}

#[tokio::test]
async fn capture_cancel_and_a_cancelled_delivery_through_the_buttons() {
    let app = manual_shop(Backend::Sqlite).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let staff = signed_in_staff(&app).await;
    let stock = app.stock_of("hand-grinder").await;

    // A delivery made and cancelled gives the goods back to deliver.
    press(&staff, &number, "/deliveries", &[("qty_0", "1")]).await;
    let page = order_page(&staff, &number).await;
    let path = format!("/deliveries/{}/status", delivery_on(&page, &number));
    assert_done(
        &press_on(&staff, &page, &number, &path, &[("status", "cancelled")]).await,
        &number,
        "delivery_cancelled",
    );
    let page = order_page(&staff, &number).await;
    assert_eq!(
        testid(&page, "delivery-status").as_deref(),
        Some("Cancelled")
    );
    assert!(has(&page, "create-delivery"));
    assert!(!has(&page, "delivery-delivered"));

    assert_done(
        &press(&staff, &number, "/capture", &[]).await,
        &number,
        "captured",
    );
    let order = app.order(&number).await;
    let total = order.totals.total.minor;
    assert_eq!(order.payment.unwrap().captured_minor, total);
    assert_eq!(order.status, OrderStatus::Paid);

    assert_done(
        &press(&staff, &number, "/cancel", &[]).await,
        &number,
        "cancelled",
    );
    let order = app.order(&number).await;
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(order.payment.unwrap().refunded_minor, total, "money back");
    assert_eq!(app.stock_of("hand-grinder").await, stock + 1);
    let page = order_page(&staff, &number).await;
    assert_eq!(testid(&page, "order-status").as_deref(), Some("Cancelled"));
    for gone in ["create-delivery", "capture", "cancel", "refund"] {
        assert!(!has(&page, gone), "{gone}: {page}");
    }
    assert!(page.contains("Order cancelled, stock back"), "{page}");
}

#[tokio::test]
async fn offline_payments_are_marked_paid_and_collected_through_the_buttons() {
    let app = spawn_app(Backend::Sqlite).await;
    let staff = signed_in_staff(&app).await;

    let in_advance = buy_with(
        &app,
        "milk-jug",
        1,
        &with(checkout_form(), "payment_method", "offline:cash_in_advance"),
    )
    .await;
    let page = order_page(&staff, &in_advance).await;
    assert!(has(&page, "mark-paid") && has(&page, "cancel"));
    for hidden in ["create-delivery", "capture", "refund", "mark-collected"] {
        assert!(!has(&page, hidden), "{hidden}");
    }
    assert_done(
        &press(&staff, &in_advance, "/mark-paid", &[]).await,
        &in_advance,
        "paid",
    );
    assert_eq!(app.order(&in_advance).await.status, OrderStatus::Paid);
    let page = order_page(&staff, &in_advance).await;
    assert!(!has(&page, "mark-paid") && has(&page, "create-delivery"));

    let on_delivery = buy_with(&app, "espresso-cup", 1, &checkout_form()).await;
    let page = order_page(&staff, &on_delivery).await;
    assert!(!has(&page, "mark-collected"), "nothing delivered yet");
    press(&staff, &on_delivery, "/deliveries", &[("qty_0", "1")]).await;
    let page = order_page(&staff, &on_delivery).await;
    let path = format!("/deliveries/{}/status", delivery_on(&page, &on_delivery));
    press_on(
        &staff,
        &page,
        &on_delivery,
        &path,
        &[("status", "delivered")],
    )
    .await;
    let page = order_page(&staff, &on_delivery).await;
    assert!(has(&page, "mark-collected"), "{page}");
    assert_done(
        &press(&staff, &on_delivery, "/mark-collected", &[]).await,
        &on_delivery,
        "collected",
    );
    assert_eq!(app.order(&on_delivery).await.status, OrderStatus::Completed);
}

#[tokio::test]
async fn a_stale_form_answers_409_and_a_refusal_422_and_neither_changes_anything() {
    let app = manual_shop(Backend::Sqlite).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1), ("milk-jug", 1)]).await;
    let staff = signed_in_staff(&app).await;

    let shown = order_page(&staff, &number).await;
    press(
        &staff,
        &number,
        "/deliveries",
        &[("qty_0", "1"), ("qty_1", "0")],
    )
    .await;
    let before = app.order(&number).await;
    // The capture button of the page as it was before the delivery.
    let stale = press_on(&staff, &shown, &number, "/capture", &[]).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let html = stale.text().await.unwrap();
    assert!(testid(&html, "stale").unwrap().starts_with(STALE), "{html}");
    assert_eq!(
        version_on(&html),
        before.version.to_string(),
        "the order as it is now"
    );
    assert_eq!(app.order(&number).await, before, "nothing saved");

    // Refused by the use case: the reason next to the button.
    let early = press(&staff, &number, "/refund", &[("amount", "1.00")]).await;
    assert_eq!(early.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = early.text().await.unwrap();
    assert_eq!(
        testid(&html, "problem-refund").as_deref(),
        Some("Nothing was captured that could be refunded.")
    );
    // Too many of a line: said at that line's field.
    let too_many = press(&staff, &number, "/deliveries", &[("qty_1", "5")]).await;
    assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = too_many.text().await.unwrap();
    assert!(
        html.contains("Only 1 of this line are still to be delivered."),
        "{html}"
    );
    assert!(
        html.contains("value=\"5\""),
        "the typed quantity is kept: {html}"
    );
    let junk = press(&staff, &number, "/deliveries", &[("qty_1", "two")]).await;
    assert_eq!(junk.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = junk.text().await.unwrap();
    assert!(
        html.contains("Please enter a whole number of items"),
        "{html}"
    );
    let none = press(&staff, &number, "/deliveries", &[("qty_1", "0")]).await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        testid(&none.text().await.unwrap(), "problem-create-delivery").as_deref(),
        Some("Choose at least one line for the delivery.")
    );
    assert_eq!(app.order(&number).await, before, "nothing saved");
}

#[tokio::test]
async fn a_bad_token_is_refused_and_an_unknown_order_is_not_found() {
    let app = manual_shop(Backend::Sqlite).await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    let staff = signed_in_staff(&app).await;
    let page = order_page(&staff, &number).await;
    let forged = staff
        .client
        .post(staff.url(&format!("/admin/orders/{number}/capture")))
        .form(&[("csrf_token", "forged"), ("version", &version_on(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.order(&number).await.payment.unwrap().captured_minor, 0);

    for path in ["/admin/orders/K-999999", "/admin/orders/nonsense"] {
        assert_eq!(
            staff.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let unknown = press_on(&staff, &page, "K-999999", "/capture", &[]).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let no_version = staff
        .client
        .post(staff.url(&format!("/admin/orders/{number}/capture")))
        .form(&[("csrf_token", csrf_token(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), StatusCode::BAD_REQUEST);
    let no_such_status = press_on(
        &staff,
        &page,
        &number,
        "/deliveries/x/status",
        &[("status", "created")],
    )
    .await;
    assert_eq!(no_such_status.status(), StatusCode::BAD_REQUEST);
    let no_such_delivery = press_on(
        &staff,
        &page,
        &number,
        "/deliveries/made-up/status",
        &[("status", "delivered")],
    )
    .await;
    assert_eq!(no_such_delivery.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        testid(&no_such_delivery.text().await.unwrap(), "problem").as_deref(),
        Some("This order has no such delivery.")
    );
    assert_eq!(app.order(&number).await.payment.unwrap().captured_minor, 0);
}
