//! Probes for a load balancer.

use crate::application::{Shop, health};
use actix_web::{HttpResponse, get, web};
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

/// What the node has done, in the Prometheus text format: for now the
/// store's commits by durability (the benchmark reads them per flow).
#[get("/metrics")]
async fn metrics(shop: web::Data<Shop>) -> HttpResponse {
    let (durable, light) = health::commits(&shop);
    let body = format!(
        "# HELP kassa_db_commits_total Database commits by durability.\n\
         # TYPE kassa_db_commits_total counter\n\
         kassa_db_commits_total{{durability=\"durable\"}} {durable}\n\
         kassa_db_commits_total{{durability=\"light\"}} {light}\n"
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

fn unavailable(what: &'static str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain")
        .body(what)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
