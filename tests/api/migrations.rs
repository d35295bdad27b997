//! Databases that earlier builds migrated end with the schema a fresh
//! database gets.

use crate::helpers::*;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use kassa::store::migrations;

on_both_backends!(a_database_whose_000070_made_only_orders_by_cart_migrates_to_the_fresh_schema);

/// What an earlier build's migrations left: its 000070 made only
/// `orders_by_cart`, under the version of today's 000070 (which therefore
/// never runs there), and nothing after it.
const EARLIER_BUILD: &str = "
    DROP INDEX place_order_process_by_start;
    DROP INDEX registrations_by_registration_id;
    CREATE INDEX IF NOT EXISTS orders_by_cart ON orders (cart_id);
    DELETE FROM __diesel_schema_migrations WHERE version > '20261206000070';
";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Each index with its definition.
const SQLITE_INDEXES: &str = "SELECT name || ': ' || sql AS name FROM sqlite_master \
    WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name";
const POSTGRES_INDEXES: &str = "SELECT indexname || ': ' || indexdef AS name FROM pg_indexes \
    WHERE schemaname = 'public' ORDER BY indexname";
const VERSIONS: &str = "SELECT version AS name FROM __diesel_schema_migrations ORDER BY version";

/// The database of `resources` and what runs on it.
enum Database {
    Sqlite(String),
    Postgres(String),
}

impl Database {
    fn of(resources: &Resources) -> Self {
        match &resources.database {
            Some(db) => Self::Postgres(db.url.clone()),
            None => Self::Sqlite(
                resources
                    .data_dir
                    .path()
                    .join("kassa.db")
                    .to_str()
                    .expect("a UTF-8 path")
                    .to_owned(),
            ),
        }
    }

    async fn migrate(&self) -> anyhow::Result<usize> {
        match self {
            Self::Sqlite(path) => migrations::run_sqlite(path).await,
            Self::Postgres(url) => migrations::run_postgres(url).await,
        }
    }

    async fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite(path) => {
                use diesel::connection::SimpleConnection;
                let mut conn = SqliteConnection::establish(path).expect("SQLite");
                conn.batch_execute(sql).expect("executed");
            }
            Self::Postgres(url) => {
                let mut conn = AsyncPgConnection::establish(url).await.expect("PostgreSQL");
                conn.batch_execute(sql).await.expect("executed");
            }
        }
    }

    async fn names(&self, sqlite: &str, postgres: &str) -> Vec<String> {
        let rows: Vec<Row> = match self {
            Self::Sqlite(path) => {
                use diesel::RunQueryDsl;
                let mut conn = SqliteConnection::establish(path).expect("SQLite");
                diesel::sql_query(sqlite).load(&mut conn).expect("read")
            }
            Self::Postgres(url) => {
                use diesel_async::RunQueryDsl;
                let mut conn = AsyncPgConnection::establish(url).await.expect("PostgreSQL");
                diesel::sql_query(postgres)
                    .load(&mut conn)
                    .await
                    .expect("read")
            }
        };
        rows.into_iter().map(|row| row.name).collect()
    }

    async fn indexes(&self) -> Vec<String> {
        self.names(SQLITE_INDEXES, POSTGRES_INDEXES).await
    }

    async fn versions(&self) -> Vec<String> {
        self.names(VERSIONS, VERSIONS).await
    }
}

async fn a_database_whose_000070_made_only_orders_by_cart_migrates_to_the_fresh_schema(
    backend: Backend,
) {
    let resources = fresh_resources(backend).await;
    let database = Database::of(&resources);
    database.migrate().await.expect("a fresh database migrates");
    let (fresh_indexes, fresh_versions) = (database.indexes().await, database.versions().await);
    assert!(
        fresh_versions.contains(&"20261206000070".to_owned()),
        "{fresh_versions:?}"
    );
    for index in [
        "place_order_process_by_start",
        "registrations_by_registration_id",
    ] {
        assert!(
            fresh_indexes
                .iter()
                .any(|name| name.starts_with(&format!("{index}: "))),
            "{fresh_indexes:?}"
        );
    }

    database.execute(EARLIER_BUILD).await;
    assert_eq!(
        database.versions().await.last().map(String::as_str),
        Some("20261206000070")
    );
    let applied = database
        .migrate()
        .await
        .expect("the earlier build's database migrates");
    let later = fresh_versions
        .iter()
        .filter(|version| version.as_str() > "20261206000070")
        .count();
    assert_eq!(applied, later, "the migrations after 000070 ran");
    assert_eq!(database.indexes().await, fresh_indexes);
    assert_eq!(database.versions().await, fresh_versions);
}
