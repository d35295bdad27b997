//! Every `[checkout]` flag, toggled off and on, against the behaviour the
//! shop owner expects.

use crate::helpers::*;
use kassa::config::CheckoutSettings;
use kassa::store::catalogue::ProductChange;
use reqwest::StatusCode;
use std::future::Future;
use std::pin::Pin;

type Check = fn(TestApp, bool) -> Pin<Box<dyn Future<Output = ()>>>;

struct Case {
    flag: &'static str,
    set: fn(&mut CheckoutSettings, bool),
    check: Check,
}

const CASES: &[Case] = &[
    Case {
        flag: "skip_start_action",
        set: |c, on| c.skip_start_action = on,
        check: skip_start_action,
    },
    Case {
        flag: "skip_review_action",
        set: |c, on| c.skip_review_action = on,
        check: skip_review_action,
    },
    Case {
        flag: "show_review_step_after_payment_error",
        set: |c, on| c.show_review_step_after_payment_error = on,
        check: show_review_step_after_payment_error,
    },
    Case {
        flag: "show_empty_cart_page_if_no_items",
        set: |c, on| c.show_empty_cart_page_if_no_items = on,
        check: show_empty_cart_page_if_no_items,
    },
    Case {
        flag: "redirect_to_cart_on_invalid_cart",
        set: |c, on| c.redirect_to_cart_on_invalid_cart = on,
        check: redirect_to_cart_on_invalid_cart,
    },
    Case {
        flag: "use_delivery_forms",
        set: |c, on| c.use_delivery_forms = on,
        check: use_delivery_forms,
    },
    Case {
        flag: "use_personal_data_form",
        set: |c, on| c.use_personal_data_form = on,
        check: use_personal_data_form,
    },
    Case {
        flag: "privacy_policy_required",
        set: |c, on| c.privacy_policy_required = on,
        check: privacy_policy_required,
    },
    Case {
        flag: "enable_offline_payment_provider",
        set: |c, on| c.enable_offline_payment_provider = on,
        check: enable_offline_payment_provider,
    },
];

async fn each_flag_off_and_on(backend: Backend) {
    for case in CASES {
        for on in [false, true] {
            let app = spawn_app_with(backend, |s| {
                (case.set)(&mut s.checkout, on);
                // Small enough to refuse every cart with cash on delivery.
                if case.flag == "show_review_step_after_payment_error" {
                    s.payment.offline.cash_on_delivery_limit_minor = 100;
                }
            })
            .await;
            eprintln!("checking {} = {on}", case.flag);
            (case.check)(app, on).await;
        }
    }
}

fn skip_start_action(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        let start = app.get("/checkout/start").await;
        if on {
            assert_redirect(&start, "/checkout");
        } else {
            assert_eq!(start.status(), StatusCode::OK);
            assert!(start.text().await.unwrap().contains("Continue as guest"));
        }
    })
}

fn skip_review_action(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        let button = if on {
            ">Place order</button>"
        } else {
            ">Continue to review</button>"
        };
        assert!(app.get_html("/checkout").await.contains(button));
        let submitted = app.submit_checkout(&checkout_form()).await;
        if on {
            // Sending the form places the order.
            assert_placed(&submitted);
            assert_eq!(app.order_count().await, 1);
            app.add_to_cart("espresso-cup", 1).await;
            assert_redirect(&app.get("/checkout/review").await, "/checkout");
        } else {
            assert_redirect(&submitted, "/checkout/review");
            assert_eq!(app.get("/checkout/review").await.status(), StatusCode::OK);
            // The form alone does not place the order.
            assert_redirect(&app.get("/checkout/payment").await, "/checkout");
            assert_eq!(app.order_count().await, 0);
        }
    })
}

fn show_review_step_after_payment_error(
    app: TestApp,
    on: bool,
) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        app.submit_checkout(&checkout_form()).await;
        let failed = app.confirm_review().await;
        let landing = if on { "/checkout/review" } else { "/checkout" };
        assert_redirect(&failed, landing);
        let page = app.get_html(landing).await;
        assert!(
            page.contains("Cash on delivery is available for orders up to 1.00 EUR"),
            "{page}"
        );
        // The cart is intact and the attempt is over.
        assert!(page.contains("data-testid=\"cart-count\">1<"));
        assert_redirect(&app.get("/checkout/placeorder").await, "/checkout");
        assert_eq!(app.get("/cart").await.status(), StatusCode::OK);
        assert_redirect(&app.add_to_cart("espresso-cup", 1).await, "/cart");
        assert!(
            app.get_html("/cart")
                .await
                .contains("data-testid=\"cart-count\">2<"),
            "the cart can change again"
        );
        assert_eq!(app.order_count().await, 0);
    })
}

fn show_empty_cart_page_if_no_items(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        for path in ["/checkout/start", "/checkout", "/checkout/review"] {
            let response = app.get(path).await;
            if on {
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                assert!(
                    response
                        .text()
                        .await
                        .unwrap()
                        .contains("Your cart is empty"),
                    "{path}"
                );
            } else {
                assert_redirect(&response, "/cart");
            }
        }
    })
}

fn redirect_to_cart_on_invalid_cart(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("milk-jug", 1).await;
        let change = ProductChange {
            active: Some(false),
            ..Default::default()
        };
        app.shop
            .store()
            .change_product("milk-jug", change)
            .await
            .unwrap();
        let checkout = app.get("/checkout").await;
        let submitted = app.submit_checkout(&checkout_form()).await;
        if on {
            assert_redirect(&checkout, "/cart");
            assert_redirect(&submitted, "/cart");
            let cart = app.get_html("/cart").await;
            assert!(cart.contains("Milk jug is no longer available"));
        } else {
            assert_eq!(checkout.status(), StatusCode::OK);
            assert!(
                checkout
                    .text()
                    .await
                    .unwrap()
                    .contains("Milk jug is no longer available")
            );
            assert_eq!(submitted.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(app.order_count().await, 0);
    })
}

fn use_delivery_forms(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        let page = app.get_html("/checkout").await;
        assert_eq!(page.contains("name=\"shipping_method\""), on);
        assert_eq!(page.contains("name=\"delivery_street\""), on);
        let mut form = without(checkout_form(), "shipping_method");
        form = without(form, "delivery_same_as_billing");
        let submitted = app.submit_checkout(&form).await;
        if on {
            // A separate delivery address and a shipping method are now required.
            assert_eq!(submitted.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let page = submitted.text().await.unwrap();
            assert!(page.contains("id=\"shipping_method-error\""));
            assert!(page.contains("id=\"delivery_street-error\""));
            let other = with(
                with(form, "delivery_first_name", "Cy"),
                "delivery_last_name",
                "Lee",
            );
            let other = with(
                with(other, "delivery_street", "Hafenstraße"),
                "delivery_house_number",
                "2",
            );
            let other = with(
                with(other, "delivery_postcode", "20095"),
                "delivery_city",
                "Hamburg",
            );
            let other = with(
                with(other, "delivery_country", "DE"),
                "shipping_method",
                "express",
            );
            let success = app.buy(&other).await;
            let order = app.order(&order_number(&success)).await;
            assert_eq!(order.details.delivery().city, "Hamburg");
            assert_eq!(order.details.billing.city, "Berlin");
            assert_eq!(order.totals.shipping.minor, 1290);
        } else {
            assert_redirect(&submitted, "/checkout/review");
        }
    })
}

fn use_personal_data_form(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        assert_eq!(
            app.get_html("/checkout")
                .await
                .contains("name=\"date_of_birth\""),
            on
        );
        let submitted = app.submit_checkout(&checkout_form()).await;
        if on {
            assert_eq!(submitted.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                submitted
                    .text()
                    .await
                    .unwrap()
                    .contains("Please enter your date of birth.")
            );
            let too_young = with(checkout_form(), "date_of_birth", "2020-01-01");
            let page = app.submit_checkout(&too_young).await.text().await.unwrap();
            assert!(page.contains("You must be at least 18 years old to order."));
            let adult = with(checkout_form(), "date_of_birth", "1980-02-29");
            assert_redirect(&app.submit_checkout(&adult).await, "/checkout/review");
        } else {
            assert_redirect(&submitted, "/checkout/review");
        }
    })
}

fn privacy_policy_required(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        assert_eq!(
            app.get_html("/checkout")
                .await
                .contains("name=\"accept_privacy\""),
            on
        );
        let submitted = app
            .submit_checkout(&without(checkout_form(), "accept_privacy"))
            .await;
        if on {
            assert_eq!(submitted.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                submitted
                    .text()
                    .await
                    .unwrap()
                    .contains("Please accept the privacy policy.")
            );
        } else {
            assert_redirect(&submitted, "/checkout/review");
        }
        // Terms are required either way.
        let no_terms = app
            .submit_checkout(&without(checkout_form(), "accept_terms"))
            .await;
        assert_eq!(no_terms.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
}

fn enable_offline_payment_provider(app: TestApp, on: bool) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        app.add_to_cart("espresso-cup", 1).await;
        let page = app.get_html("/checkout").await;
        assert_eq!(page.contains("value=\"offline:cash_on_delivery\""), on);
        assert_eq!(page.contains("value=\"offline:cash_in_advance\""), on);
        let submitted = app.submit_checkout(&checkout_form()).await;
        if on {
            assert_redirect(&submitted, "/checkout/review");
        } else {
            assert_eq!(submitted.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(
                submitted
                    .text()
                    .await
                    .unwrap()
                    .contains("No payment method is available")
            );
            // A free order still goes through without any provider.
            let free = with(
                without(checkout_form(), "payment_method"),
                "voucher_code",
                "FREEORDER",
            );
            app.buy(&free).await;
            assert_eq!(app.order_count().await, 1);
        }
    })
}

on_both_backends!(each_flag_off_and_on,);
