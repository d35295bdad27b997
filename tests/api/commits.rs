//! How many commits a guest checkout costs: the durable ones (synced to
//! disk before the answer) are few; the rest are light.

use crate::helpers::*;
use crate::hosted::wait_for;

on_both_backends!(a_cash_on_delivery_checkout_makes_few_durable_commits);

async fn a_cash_on_delivery_checkout_makes_few_durable_commits(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.registration.enabled = false;
        s.outbox.poll_ms = 20;
    })
    .await;
    let store = app.shop.store();
    let (durable_before, light_before) = store.commits().get();
    app.add_to_cart("hand-grinder", 1).await;
    let success = app.buy(&checkout_form()).await;
    let number = order_number(&success);
    let order = app.order(&number).await;
    wait_for("the confirmation sent", async || {
        store
            .order_mails(&order.id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.status == kassa::domain::mail::MailStatus::Sent)
    })
    .await;
    let (durable, light) = store.commits().get();
    let (durable, light) = (durable - durable_before, light - light_before);
    eprintln!("{backend:?}: a guest checkout made {durable} durable and {light} light commits");
    assert!(durable >= 1, "the order is durable");
    assert!(durable <= 6, "{durable} durable commits");
}
