//! Probes for a load balancer.

use crate::application::{Shop, health};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use std::time::Duration;

/// What readiness depends on besides the shop's database.
pub struct Probes {
    /// Present when sessions live in Redis.
    pub redis: Option<redis::aio::ConnectionManager>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The process can serve: the database and, when used, Redis answer.
#[get("/readyz")]
async fn readyz(shop: web::Data<Shop>, probes: web::Data<Probes>) -> HttpResponse {
    let database = tokio::time::timeout(PROBE_TIMEOUT, health::database_answers(&shop)).await;
    if !matches!(database, Ok(Ok(()))) {
        tracing::warn!("readiness: the database does not answer");
        return unavailable("database unavailable");
    }
    if let Some(redis) = &probes.redis {
        let mut conn = redis.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut conn);
        if !matches!(tokio::time::timeout(PROBE_TIMEOUT, ping).await, Ok(Ok(_))) {
            tracing::warn!("readiness: Redis does not answer");
            return unavailable("session store unavailable");
        }
    }
    HttpResponse::Ok().content_type("text/plain").body("ready")
}

/// What the node and the shop have done, in the Prometheus text format:
/// this node's requests and commits, and the shop-wide figures counted in
/// the database now. Only for a scraper (see [`refused_scrape`]).
#[get("/metrics")]
async fn metrics(req: HttpRequest, shop: web::Data<Shop>) -> HttpResponse {
    if let Some(refused) = refused_scrape(&req, shop.settings.metrics.token()) {
        return refused;
    }
    let figures = match tokio::time::timeout(PROBE_TIMEOUT, health::figures(&shop)).await {
        Ok(Ok(figures)) => figures,
        _ => return unavailable("database unavailable"),
    };
    let mut out = String::with_capacity(8 * 1024);
    shop.metrics.write(&mut out);
    crate::metrics::write_store(
        &mut out,
        health::commits(&shop),
        health::connection_waits(&shop),
    );
    crate::metrics::write_figures(&mut out, &figures);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}

/// The answer to a scrape that may not be served, if it may not: with
/// `metrics.token` set, the scraper shows it as a bearer token; without,
/// only this machine may scrape, and not through a proxy.
fn refused_scrape(req: &HttpRequest, token: Option<&str>) -> Option<HttpResponse> {
    match token {
        Some(token) => {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            (!crate::application::secrets_match(given, token)).then(|| {
                HttpResponse::Unauthorized()
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                    .content_type("text/plain")
                    .body("a bearer token is needed")
            })
        }
        None => {
            let proxied = req.headers().contains_key(header::FORWARDED)
                || req.headers().contains_key("x-forwarded-for");
            let local = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
            (!local || proxied).then(|| {
                HttpResponse::Forbidden()
                    .content_type("text/plain")
                    .body("set metrics.token to scrape from elsewhere")
            })
        }
    }
}

fn unavailable(what: &'static str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain")
        .body(what)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
