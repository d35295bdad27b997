//! Webhooks to the shop: signed, each with an event id, retried with
//! exponential backoff until the shop answers 2xx (at most 6 tries).

use super::Sandbox;
use crate::payment::hosted::wire::Session;
use crate::payment::signature;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: String,
    pub reference: String,
    /// What a money operation moved (captured, released, refunded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    pub created: i64,
}

const ATTEMPTS: u32 = 6;

impl Sandbox {
    pub(super) fn emit(&self, session: &Session, kind: &str) {
        self.emit_with_amount(session, kind, None);
    }

    pub(super) fn emit_with_amount(
        &self,
        session: &Session,
        kind: &str,
        amount_minor: Option<i64>,
    ) {
        let (knobs, sequence, plan) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            state.next_event += 1;
            let count = state
                .events_per_session
                .entry(session.id.clone())
                .or_insert(0);
            *count += 1;
            let first_of_session = *count == 1;
            let knobs = state.knobs.clone();
            if knobs.drop {
                return;
            }
            // Reordering (test knob): the first event of a session waits
            // until later ones went.
            let mut delay_ms = knobs.delay_ms;
            if knobs.reorder && first_of_session {
                delay_ms += knobs.delay_ms.max(200) * 3;
            }
            let plan = state.chaos.plan_webhook(first_of_session, delay_ms);
            (knobs, state.next_event, plan)
        };
        let mut delays = plan.delays_ms;
        if knobs.duplicate && delays.len() == 1 {
            delays.push(delays[0]);
        }
        let event = Event {
            id: format!("evt_{sequence:08}_{}", uuid::Uuid::new_v4().simple()),
            kind: kind.to_owned(),
            session_id: session.id.clone(),
            reference: session.request.reference.clone(),
            amount_minor,
            created: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let url = session.request.webhook_url.clone();
        for delay_ms in delays {
            let sandbox = self.clone();
            let (url, event) = (url.clone(), event.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                sandbox.deliver(&url, &event).await;
            });
        }
    }

    async fn deliver(&self, url: &str, event: &Event) {
        let Ok(body) = serde_json::to_vec(event) else {
            return;
        };
        let mut backoff = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let sent = self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .header(
                    signature::HEADER,
                    signature::sign(&self.webhook_secret, now, &body),
                )
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    self.lock().stats.webhooks_sent += 1;
                    return;
                }
                Ok(response) => {
                    tracing::debug!(event = %event.id, attempt, status = %response.status(), "webhook refused")
                }
                Err(e) => tracing::debug!(event = %event.id, attempt, error = %e, "webhook failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        tracing::warn!(event = %event.id, "webhook given up");
    }
}
