//! Storage: one repository for the embedded SQLite file and PostgreSQL.
//!
//! Every query is written once inside `read!`, `with_conn!` or `write_tx!`,
//! which compile it for both backends. Nothing outside this module knows
//! which backend runs.
//!
//! On SQLite, reads (`read!`) run on the calling thread: a read in WAL mode
//! never waits for a writer and takes microseconds, far less than handing
//! it to the blocking pool and back. Writes (`with_conn!`, `write_tx!`) may
//! wait for the write lock or for the disk, so they go to the blocking
//! pool, never stalling the async workers.

pub mod accounts;
pub mod api_keys;
#[cfg(feature = "test-support")]
pub mod audit;
pub mod carts;
pub mod catalogue;
pub mod fulfilment;
pub mod idempotency;
pub mod mail;
pub mod migrations;
pub mod order_list;
pub mod orders;
pub mod outbox;
pub mod password_reset;
pub mod payments;
pub mod processes;
pub mod registrations;
mod rows;
pub mod schema;
pub mod seed;
pub mod staff;

use diesel::SqliteConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::SimpleAsyncConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use std::path::Path;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
/// A read-only SQLite connection whose queries run on the calling thread.
pub type SqliteReader = SyncConnectionWrapper<SqliteConnection, OnThisThread>;

/// Runs a "blocking" SQLite call where it is asked for: only for reads,
/// which never wait for a lock in WAL mode.
pub struct OnThisThread;

impl diesel_async::sync_connection_wrapper::SpawnBlocking for OnThisThread {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>,
                > + Send
                + 'a,
        >,
    >
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Self
    }
}

#[derive(Clone)]
pub enum DbPool {
    Sqlite {
        /// `synchronous = FULL`: durable commits.
        writer: Pool<SqliteConn>,
        /// `synchronous = NORMAL`: light commits.
        light: Pool<SqliteConn>,
        reader: Pool<SqliteReader>,
    },
    Pg(Pool<AsyncPgConnection>),
}

/// A connection for reading, for one unit of work.
#[allow(clippy::large_enum_variant)]
pub enum ReadConn {
    Sqlite(Object<SqliteReader>),
    Pg(Object<AsyncPgConnection>),
}

/// Lives only for one unit of work, so the size gap of the variants is moot.
#[allow(clippy::large_enum_variant)]
pub enum DbConn {
    Sqlite(Object<SqliteConn>),
    Pg(Object<AsyncPgConnection>),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    /// Another request changed the row first; the caller may retry.
    #[error("a concurrent change won: {0}")]
    Conflict(&'static str),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Errors that a retry of the whole unit of work can resolve.
    pub fn is_retryable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Self::Conflict(_) => true,
            Self::Db(Error::DatabaseError(kind, _)) => matches!(
                kind,
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure
            ),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Runs `$body` (reads only) on a reading connection.
macro_rules! read {
    ($store:expr, |$c:ident| $body:expr) => {{
        match $store.read_conn().await? {
            $crate::store::ReadConn::Sqlite(mut conn) => {
                let run = async |$c: &mut $crate::store::SqliteReader| $body;
                run(&mut *conn).await
            }
            $crate::store::ReadConn::Pg(mut conn) => {
                let run = async |$c: &mut diesel_async::AsyncPgConnection| $body;
                run(&mut *conn).await
            }
        }
    }};
}

/// Runs `$body`, one write that commits on its own, with `$c` bound to a
/// pooled connection of either backend; the commit is durable. The body
/// is a closure, as in `write_tx!`: `return` and `?` leave the body, not
/// the function around it.
macro_rules! with_conn {
    ($store:expr, |$c:ident| $body:expr) => {{
        let done = match $store.conn($crate::store::Durability::Durable).await? {
            $crate::store::DbConn::Sqlite(mut conn) => {
                let run = async |$c: &mut $crate::store::SqliteConn| $body;
                run(&mut *conn).await
            }
            $crate::store::DbConn::Pg(mut conn) => {
                let run = async |$c: &mut diesel_async::AsyncPgConnection| $body;
                run(&mut *conn).await
            }
        };
        $store.committed($crate::store::Durability::Durable, done.is_ok());
        done
    }};
}

/// Runs `$body` in a write transaction whose commit is durable. SQLite
/// takes the write lock at BEGIN (IMMEDIATE), so two writers queue instead
/// of failing at their first write.
macro_rules! write_tx {
    ($store:expr, |$c:ident| $body:expr) => {{
        let done = match $store.conn($crate::store::Durability::Durable).await? {
            $crate::store::DbConn::Sqlite(mut conn) => {
                conn.immediate_transaction(async |$c| $body).await
            }
            $crate::store::DbConn::Pg(mut conn) => {
                use diesel_async::AsyncConnection as _;
                conn.transaction(async |$c| $body).await
            }
        };
        $store.committed($crate::store::Durability::Durable, done.is_ok());
        done
    }};
}

/// Runs `$body`, one write that commits on its own, as a light commit (see
/// [`Durability::Light`]).
macro_rules! light_conn {
    ($store:expr, |$c:ident| $body:expr) => {{
        let done = match $store.conn($crate::store::Durability::Light).await? {
            $crate::store::DbConn::Sqlite(mut conn) => {
                let run = async |$c: &mut $crate::store::SqliteConn| $body;
                run(&mut *conn).await
            }
            $crate::store::DbConn::Pg(mut conn) => {
                use diesel_async::AsyncConnection as _;
                use diesel_async::SimpleAsyncConnection as _;
                conn.transaction(async |$c| {
                    $c.batch_execute("SET LOCAL synchronous_commit TO OFF")
                        .await?;
                    $body
                })
                .await
            }
        };
        $store.committed($crate::store::Durability::Light, done.is_ok());
        done
    }};
}

/// Runs `$body` in a write transaction whose commit survives the process
/// dying but may be lost with the machine (see [`Durability::Light`]).
macro_rules! light_tx {
    ($store:expr, |$c:ident| $body:expr) => {{
        let done = match $store.conn($crate::store::Durability::Light).await? {
            $crate::store::DbConn::Sqlite(mut conn) => {
                conn.immediate_transaction(async |$c| $body).await
            }
            $crate::store::DbConn::Pg(mut conn) => {
                use diesel_async::AsyncConnection as _;
                use diesel_async::SimpleAsyncConnection as _;
                conn.transaction(async |$c| {
                    $c.batch_execute("SET LOCAL synchronous_commit TO OFF")
                        .await?;
                    $body
                })
                .await
            }
        };
        $store.committed($crate::store::Durability::Light, done.is_ok());
        done
    }};
}

pub(crate) use light_conn;
pub(crate) use light_tx;
pub(crate) use read;
pub(crate) use with_conn;
pub(crate) use write_tx;

/// What a commit must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns (SQLite `synchronous = FULL`,
    /// PostgreSQL's default): orders, payments, money, accounts.
    Durable,
    /// Survives the process dying at once; a machine that loses power may
    /// lose the last light commits, never a durable one or the order
    /// between them (SQLite `synchronous = NORMAL` in WAL mode, PostgreSQL
    /// `synchronous_commit = off`): carts, the place-order process's
    /// steps, leases, outbox bookkeeping. Every step they record is safe
    /// to run again, and the next durable commit makes them durable too.
    Light,
}

/// Commits since start, by durability.
#[derive(Debug, Default)]
pub struct CommitCounts {
    durable: std::sync::atomic::AtomicU64,
    light: std::sync::atomic::AtomicU64,
}

impl CommitCounts {
    /// (durable, light) commits so far.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.durable.load(Relaxed), self.light.load(Relaxed))
    }
}

/// The repository. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    commits: std::sync::Arc<CommitCounts>,
}

impl Store {
    fn new(pool: DbPool) -> Self {
        Self {
            pool,
            commits: std::sync::Arc::default(),
        }
    }

    /// Commits made through this store (all its clones) since start.
    pub fn commits(&self) -> &CommitCounts {
        &self.commits
    }

    pub(crate) fn committed(&self, durability: Durability, ok: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if ok {
            match durability {
                Durability::Durable => self.commits.durable.fetch_add(1, Relaxed),
                Durability::Light => self.commits.light.fetch_add(1, Relaxed),
            };
        }
    }

    pub async fn conn(&self, durability: Durability) -> StoreResult<DbConn> {
        let pool_error = |e: diesel_async::pooled_connection::deadpool::PoolError| {
            StoreError::Pool(e.to_string())
        };
        Ok(match &self.pool {
            DbPool::Sqlite { writer, light, .. } => {
                let pool = match durability {
                    Durability::Durable => writer,
                    Durability::Light => light,
                };
                DbConn::Sqlite(pool.get().await.map_err(pool_error)?)
            }
            DbPool::Pg(pool) => DbConn::Pg(pool.get().await.map_err(pool_error)?),
        })
    }

    pub async fn read_conn(&self) -> StoreResult<ReadConn> {
        let pool_error = |e: diesel_async::pooled_connection::deadpool::PoolError| {
            StoreError::Pool(e.to_string())
        };
        Ok(match &self.pool {
            DbPool::Sqlite { reader, .. } => {
                ReadConn::Sqlite(reader.get().await.map_err(pool_error)?)
            }
            DbPool::Pg(pool) => ReadConn::Pg(pool.get().await.map_err(pool_error)?),
        })
    }

    /// Opens the SQLite file (creating it), migrated, as three pools whose
    /// connections use WAL, wait for the write lock and check foreign keys:
    /// writers that sync each commit to disk, writers for light commits,
    /// and read-only readers.
    pub async fn open_sqlite(
        path: &Path,
        pool_size: usize,
        busy_timeout_ms: u64,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let url = path
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("the database path {} is not UTF-8", path.display()))?
            .to_owned();
        migrations::run_sqlite(&url).await?;

        let writers = |synchronous: &'static str| {
            let mut config = ManagerConfig::<SqliteConn>::default();
            config.custom_setup = Box::new(move |url| {
                let url = url.to_owned();
                Box::pin(async move {
                    use diesel_async::AsyncConnection as _;
                    let mut conn = SqliteConn::establish(&url).await?;
                    conn.batch_execute(&format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_timeout_ms};"
                    ))
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                    Ok(conn)
                })
            });
            let manager = AsyncDieselConnectionManager::new_with_config(url.clone(), config);
            Pool::builder(manager).max_size(pool_size).build()
        };
        let writer = writers("FULL")?;
        let light = writers("NORMAL")?;

        // Readers refuse to write, so a write sent to them by mistake fails
        // in the tests instead of blocking a worker on the write lock.
        let mut config = ManagerConfig::<SqliteReader>::default();
        config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            Box::pin(async move {
                use diesel_async::AsyncConnection as _;
                let mut conn = SqliteReader::establish(&url).await?;
                conn.batch_execute(&format!(
                    "PRAGMA query_only = ON; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = {busy_timeout_ms};"
                ))
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        // One reader per async worker is enough: a read never waits.
        let reader = Pool::builder(manager).max_size(pool_size).build()?;
        Ok(Self::new(DbPool::Sqlite {
            writer,
            light,
            reader,
        }))
    }

    /// Connects to PostgreSQL, migrated, as a pool.
    pub async fn open_postgres(url: &str, pool_size: usize) -> anyhow::Result<Self> {
        migrations::run_postgres(url).await?;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
        let pool = Pool::builder(manager).max_size(pool_size).build()?;
        Ok(Self::new(DbPool::Pg(pool)))
    }

    /// Can a query run right now?
    pub async fn ping(&self) -> StoreResult<()> {
        read!(self, |c| {
            c.batch_execute("SELECT 1").await?;
            Ok(())
        })
    }
}

pub(crate) use crate::clock::now;

/// An insert that found its key taken.
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
