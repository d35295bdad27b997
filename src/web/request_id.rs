//! Every request carries an id: the caller's `X-Request-Id` when it is a
//! plain token, else a fresh one. It is in the span around the request (so
//! in every log line written while it is served), in the response's
//! `X-Request-Id` header and on error pages, so a shopper's "quote this
//! code" finds the log lines. This middleware also writes the access line.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument as _;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept: enough for any tracing system's ids.
const LONGEST: usize = 64;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// An incoming id worth keeping: short, and only characters that cannot
/// forge a log line or a header.
fn acceptable(value: &HeaderValue) -> Option<String> {
    let id = value.to_str().ok()?;
    let plain = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    (plain && !id.is_empty() && id.len() <= LONGEST).then(|| id.to_owned())
}

pub async fn tag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(acceptable)
        .unwrap_or_else(crate::ids::new_request_id);
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let method = req.method().clone();
    let served = CURRENT
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let _in_request = span.enter();
    let mut res = served?;
    // The route's pattern, not the path: a path may carry a token. Paths
    // that match no route are logged as they are.
    let took = started.elapsed();
    let pattern = res.request().match_pattern();
    let status = res.status().as_u16();
    if let Some(shop) = res
        .request()
        .app_data::<actix_web::web::Data<crate::application::Shop>>()
    {
        // Paths that match no route are one series: any client could make
        // up new ones.
        let route = pattern.as_deref().unwrap_or("unmatched");
        shop.metrics.request(route, known(&method), status, took);
    }
    let route = pattern.unwrap_or_else(|| res.request().path().to_owned());
    tracing::info!(
        target: "kassa::access",
        %method,
        route,
        status,
        // Whole microseconds, so the number prints short.
        ms = took.as_micros() as f64 / 1000.0,
        "served"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}

/// The method as a label: the ones the shop serves, the rest as one.
fn known(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(value: &str) -> Option<String> {
        acceptable(&HeaderValue::from_str(value).unwrap())
    }

    #[test]
    fn keeps_plain_incoming_ids_and_refuses_the_rest() {
        assert_eq!(kept("abc-123_x.y:z").as_deref(), Some("abc-123_x.y:z"));
        assert_eq!(kept(&"a".repeat(64)).map(|s| s.len()), Some(64));
        assert_eq!(kept(&"a".repeat(65)), None);
        assert_eq!(kept(""), None);
        assert_eq!(kept("two words"), None);
        assert_eq!(kept("a\"b"), None);
        assert_eq!(kept("x=1"), None);
    }
}
