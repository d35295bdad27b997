//! Embedded migrations, run on a plain synchronous connection off the async
//! runtime (diesel's async harness blocks inside actix's runtime).

use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

pub async fn run_sqlite(url: &str) -> anyhow::Result<usize> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = diesel::SqliteConnection::establish(&url)?;
        // WAL is a property of the file; set it before the first migration.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;",
        )?;
        let applied = conn
            .run_pending_migrations(SQLITE)
            .map_err(|e| anyhow::anyhow!("migrating {url}: {e}"))?;
        Ok(applied.len())
    })
    .await?
}
