//! Which nodes run the background workers: a shop node with
//! `jobs.run = false` leaves them to a `kassa jobs` process on the same
//! PostgreSQL database, which stops cleanly on SIGTERM.

use crate::helpers::*;
use kassa::store::outbox::Lane;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

on_both_backends!(events_a_stopping_worker_did_not_begin_are_free_at_once);

async fn pending(app: &TestApp) -> i64 {
    app.shop.store().count_pending_outbox().await.unwrap()
}

/// A worker that stops lets go of what it claimed and did not begin: the
/// next worker takes it now, not when the claim would have run out.
async fn events_a_stopping_worker_did_not_begin_are_free_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.jobs.run = false).await;
    app.add_to_cart("hand-grinder", 1).await;
    app.buy(&checkout_form()).await;
    let store = app.shop.store();
    let long = Duration::from_secs(600);
    let claimed: Vec<String> = store
        .claim_outbox("stopping-worker", Lane::Mail, long, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.id)
        .collect();
    assert!(!claimed.is_empty(), "the order queued a mail");
    let other = store
        .claim_outbox("other-worker", Lane::Mail, long, 20)
        .await
        .unwrap();
    assert!(other.is_empty(), "claimed events are the claimer's");

    // Only the claimer can let go.
    store
        .release_outbox_claims(&claimed, "other-worker")
        .await
        .unwrap();
    let still = store
        .claim_outbox("other-worker", Lane::Mail, long, 20)
        .await
        .unwrap();
    assert!(still.is_empty(), "another worker's release frees nothing");

    store
        .release_outbox_claims(&claimed, "stopping-worker")
        .await
        .unwrap();
    let taken: Vec<String> = store
        .claim_outbox("other-worker", Lane::Mail, long, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.id)
        .collect();
    assert_eq!(taken, claimed);
}

#[tokio::test]
#[ignore = "needs PostgreSQL (KASSA_TEST_DATABASE_URL); run with --include-ignored"]
async fn a_node_without_jobs_leaves_them_to_kassa_jobs() {
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.jobs.run = false;
        s.outbox.poll_ms = 50;
    })
    .await;
    app.add_to_cart("hand-grinder", 1).await;
    app.buy(&checkout_form()).await;
    // Several polls of a worker later, the order's mail still waits.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(pending(&app).await > 0, "no worker ran on the shop node");

    let data_dir = app.settings.data_dir.clone();
    let mut jobs = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("jobs")
        .current_dir(&data_dir)
        .env("KASSA_DATA_DIR", &data_dir)
        .env("KASSA_DATABASE__URL", &app.settings.database.url)
        .env("KASSA_PUBLIC_URL", &app.address)
        .env("KASSA_PAYMENT__HOSTED__ENABLED", "false")
        .env("KASSA_REGISTRATION__ENABLED", "false")
        .env("KASSA_SANDBOX__SERVE_BESIDE_SHOP", "false")
        .env("KASSA_OUTBOX__POLL_MS", "50")
        .env("RUST_LOG", "warn")
        .env_remove("FAILPOINTS")
        .stdout(Stdio::null())
        .spawn()
        .expect("kassa jobs starts");

    // The order's events are delivered and its confirmation mail written
    // (the mail is queued when its event is delivered, so both are waited for).
    let mails = || std::fs::read_dir(data_dir.join("mail")).map_or(0, |dir| dir.count());
    let started = Instant::now();
    while mails() == 0 || pending(&app).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "kassa jobs did not deliver the outbox: {} mails, {} pending",
            mails(),
            pending(&app).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let sent = Command::new("kill")
        .args(["-TERM", &jobs.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = jobs.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "kassa jobs did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn kassa_jobs_on_sqlite_says_it_needs_postgresql() {
    let data_dir = tempfile::TempDir::new().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("jobs")
        .current_dir(data_dir.path())
        .env("KASSA_DATA_DIR", data_dir.path())
        .env("KASSA_PUBLIC_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "warn")
        .env_remove("KASSA_DATABASE__URL")
        .env_remove("KASSA_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("needs PostgreSQL"), "{said}");
}
