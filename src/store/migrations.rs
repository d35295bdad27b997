//! Embedded migrations, run on a plain synchronous connection off the async
//! runtime (diesel's async harness blocks inside actix's runtime).

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any number, the same on every node: serializes migrations across nodes.
const MIGRATION_LOCK: i64 = 0x006b_6173_7361;

pub async fn run_sqlite(url: &str) -> anyhow::Result<usize> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = diesel::SqliteConnection::establish(&url)?;
        // WAL is a property of the file; set it before the first migration.
        conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
        let applied = conn
            .run_pending_migrations(SQLITE)
            .map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
        Ok(applied.len())
    })
    .await?
}

/// Nodes starting together take turns: the first migrates, the others
/// find nothing left to do.
pub async fn run_postgres(url: &str) -> anyhow::Result<usize> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        let applied = conn
            .run_pending_migrations(POSTGRES)
            .map(|v| v.len())
            .map_err(|e| anyhow::anyhow!("migrating PostgreSQL: {e}"));
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
        applied
    })
    .await?
}
