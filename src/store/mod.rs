//! Storage: one repository for the embedded SQLite file and PostgreSQL.
//!
//! Every query is written once inside `read!`, `with_conn!` or `write_tx!`,
//! which compile it for both backends. Nothing outside this module knows
//! which backend runs.
//!
//! On SQLite, statements run on the calling thread: a read in WAL mode
//! never waits for a writer and takes microseconds, far less than handing
//! it to the blocking pool and back. Writers take turns at an async gate,
//! so none waits for SQLite's write lock on a worker; only a durable
//! COMMIT, which waits for the disk, goes to the blocking pool (one hop per
//! unit of work, `commit_durably`).

pub mod accounts;
pub mod api_keys;
#[cfg(feature = "test-support")]
pub mod audit;
mod cart_cache;
pub mod carts;
pub mod catalogue;
mod catalogue_cache;
pub mod figures;
pub mod fulfilment;
pub mod idempotency;
mod inline_sqlite;
pub mod mail;
pub mod migrations;
pub mod order_list;
pub mod orders;
pub mod outbox;
pub mod password_reset;
pub mod payments;
pub(crate) mod prepared;
pub mod processes;
pub mod registrations;
mod rows;
pub mod schema;
pub mod seed;
pub mod staff;

use diesel_async::AsyncPgConnection;
use diesel_async::SimpleAsyncConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use std::path::Path;

/// A SQLite connection whose statements run on the calling thread. Reads
/// never wait for a lock in WAL mode; writers hold the store's write gate,
/// so they never meet another writer at SQLite's lock; and the one
/// statement that waits for the disk, a durable COMMIT, is sent to the
/// blocking pool (`commit_durably`).
pub type SqliteConn = inline_sqlite::InlineSqlite;
/// The same connection type, for the read-only pool.
pub type SqliteReader = SqliteConn;

#[derive(Clone)]
pub enum DbPool {
    Sqlite {
        /// The one writing connection, for both kinds of commit: a second
        /// one would make each drop the other's page cache at every write.
        /// Set to `synchronous = FULL` for durable commits, whose COMMIT
        /// (the sync, milliseconds) runs on the blocking pool, and to
        /// `NORMAL` for light commits, all on the calling thread.
        writer: Pool<SqliteConn>,
        reader: Pool<SqliteReader>,
        /// One writer at a time, waited for here instead of at SQLite's
        /// lock, whose busy handler would sleep on the async worker.
        gate: WriteGate,
        carts: std::sync::Arc<cart_cache::CartCache>,
    },
    Pg(Pool<AsyncPgConnection>),
}

impl DbPool {
    /// Whether this node is the only one that writes the database: an
    /// embedded SQLite file is one node's.
    fn sole_writer(&self) -> bool {
        matches!(self, Self::Sqlite { .. })
    }
}

/// A connection for reading, for one unit of work.
#[allow(clippy::large_enum_variant)]
pub enum ReadConn {
    Sqlite(SqliteRead),
    Pg(Object<AsyncPgConnection>),
}

/// A SQLite connection to read on: the writer when no one writes, else a
/// reader. Any commit by another connection empties a connection's page
/// cache (WAL mode), and the writer makes every commit, so its cache is
/// the one that stays warm; a reader reloads the pages it reads from the
/// files after nearly every commit under load.
pub enum SqliteRead {
    Reader(Object<SqliteReader>),
    /// The idle writer, with the write turn for as long as the read runs.
    Writer(Gated<Object<SqliteConn>>),
}

impl std::ops::Deref for SqliteRead {
    type Target = SqliteConn;
    fn deref(&self) -> &SqliteConn {
        match self {
            Self::Reader(conn) => conn,
            Self::Writer(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for SqliteRead {
    fn deref_mut(&mut self) -> &mut SqliteConn {
        match self {
            Self::Reader(conn) => conn,
            Self::Writer(conn) => conn,
        }
    }
}

/// Tests keep the writer read-only while it reads, as the readers are, so
/// that a write sent to a read fails there whichever connection serves it.
#[cfg(feature = "test-support")]
impl Drop for SqliteRead {
    fn drop(&mut self) {
        if let Self::Writer(conn) = self {
            let _ = run_now(conn.batch_execute("PRAGMA query_only = OFF"));
        }
    }
}

/// Lives only for one unit of work, so the size gap of the variants is moot.
#[allow(clippy::large_enum_variant)]
pub enum DbConn {
    Sqlite(Gated<Object<SqliteConn>>),
    Pg(Object<AsyncPgConnection>),
}

/// A connection for light commits.
#[allow(clippy::large_enum_variant)]
pub enum LightConn {
    Sqlite(Gated<Object<SqliteConn>>),
    Pg(Object<AsyncPgConnection>),
}

/// SQLite's one writer: a permit, waited for asynchronously as long as a
/// writer would wait for SQLite's lock.
#[derive(Clone)]
pub struct WriteGate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    patience: std::time::Duration,
    /// The writing connection (known by when it was made) and the
    /// durability it is set to, touched only by the holder of the turn.
    set_to: std::sync::Arc<std::sync::Mutex<Option<(std::time::Instant, Durability)>>>,
    /// Told when a turn ends (see `cart_cache`).
    carts: std::sync::Arc<cart_cache::CartCache>,
}

impl WriteGate {
    /// The writing connection with the turn, set to commit with
    /// `durability`. A new connection starts durable (`open_sqlite`).
    async fn writer(
        &self,
        pool: &Pool<SqliteConn>,
        durability: Durability,
    ) -> StoreResult<Gated<Object<SqliteConn>>> {
        let mut conn = self.enter(pool.get()).await?;
        let id = Object::metrics(&conn.conn).created;
        let was = {
            let set_to = self.set_to.lock().unwrap_or_else(|e| e.into_inner());
            match *set_to {
                Some((same, was)) if same == id => was,
                _ => Durability::Durable,
            }
        };
        if was != durability {
            conn.batch_execute(match durability {
                Durability::Durable => "PRAGMA synchronous = FULL",
                Durability::Light => "PRAGMA synchronous = NORMAL",
            })
            .await?;
        }
        *self.set_to.lock().unwrap_or_else(|e| e.into_inner()) = Some((id, durability));
        Ok(conn)
    }

    fn new(patience: std::time::Duration, carts: std::sync::Arc<cart_cache::CartCache>) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            patience,
            set_to: std::sync::Arc::default(),
            carts,
        }
    }

    /// The writing connection, if no writer holds the turn now: a read
    /// takes it instead of a reader (see [`SqliteRead`]).
    async fn idle_writer(&self, pool: &Pool<SqliteConn>) -> Option<Gated<Object<SqliteConn>>> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        let conn = pool.get().await.ok()?;
        Some(self.gated(conn, permit))
    }

    fn gated<O>(&self, conn: O, permit: tokio::sync::OwnedSemaphorePermit) -> Gated<O> {
        Gated {
            conn,
            _turn_ends: TurnEnds(self.carts.clone()),
            _permit: permit,
        }
    }

    async fn enter<O, E: std::fmt::Display>(
        &self,
        get: impl std::future::Future<Output = Result<O, E>>,
    ) -> StoreResult<Gated<O>> {
        let permit = tokio::time::timeout(self.patience, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Pool("the database is busy: no write turn in time".into()))?
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let conn = get.await.map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(self.gated(conn, permit))
    }
}

/// Runs `body` in a SQLite write transaction on the calling thread and
/// commits it on the blocking pool: one hop per unit of work, taken only
/// for the COMMIT, which waits for the disk (`synchronous = FULL`). The
/// commit is on disk before any reader sees it, as with a transaction run
/// wholly on the blocking pool. The caller holds the write gate, so BEGIN
/// IMMEDIATE never waits on this process's other writers.
pub async fn commit_durably<R, E>(
    conn: Gated<Object<SqliteConn>>,
    body: impl AsyncFnOnce(&mut SqliteConn) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<diesel::result::Error>,
{
    let mut open = OpenTransaction(Some(conn));
    let tx = open.conn();
    tx.batch_execute("BEGIN IMMEDIATE").await?;
    let done = body(tx).await;
    let conn = open.close();
    let committed = if done.is_ok() {
        tokio::task::spawn_blocking(move || {
            let mut conn = conn;
            let ended = run_now(conn.batch_execute("COMMIT"));
            let in_doubt = ended.is_err().then_some(conn);
            (ended, OpenTransaction(in_doubt))
        })
        .await
        .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?
        .0
    } else {
        let mut conn = conn;
        // A failed ROLLBACK (SQLite may have ended the transaction with the
        // error) leaves the connection in doubt: it is not reused. The
        // body's error is the answer either way.
        if conn.batch_execute("ROLLBACK").await.is_err() {
            drop(OpenTransaction(Some(conn)));
        }
        return done;
    };
    committed?;
    done
}

/// A connection inside a transaction this process began: if it is dropped
/// before the transaction ends (a panic, a failed COMMIT), the connection
/// is closed instead of going back to the pool with the transaction open.
struct OpenTransaction(Option<Gated<Object<SqliteConn>>>);

impl OpenTransaction {
    fn conn(&mut self) -> &mut SqliteConn {
        self.0.as_mut().expect("an open transaction")
    }

    /// The transaction is about to end: the caller takes the connection.
    fn close(mut self) -> Gated<Object<SqliteConn>> {
        self.0.take().expect("an open transaction")
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(gated) = self.0.take() {
            let _ = Object::take(gated.conn);
        }
    }
}

/// The result of a future of an inline connection ([`SqliteConn`]),
/// which is ready when first polled.
fn run_now<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("an inline SQLite call is ready at once"),
    }
}

async fn pg_conn(pool: &Pool<AsyncPgConnection>) -> StoreResult<Object<AsyncPgConnection>> {
    pool.get()
        .await
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// A pool of SQLite connections of type `$conn`, set up with `$pragmas`;
/// writing connections tell `$carts` (`Some`) of every cart they change.
macro_rules! sqlite_pool {
    ($conn:ty, $url:expr, $size:expr, $pragmas:expr, $carts:expr, $statements:expr) => {{
        let pragmas: String = $pragmas;
        let carts: Option<std::sync::Arc<cart_cache::CartCache>> = $carts;
        #[cfg(feature = "test-support")]
        let statements: Statements = std::sync::Arc::clone($statements);
        let mut config = ManagerConfig::<$conn>::default();
        // The default recycling runs `SELECT 1` at every checkout: a query
        // (on the durable writer, a blocking hop) per unit of work. A
        // broken connection shows on its first use and is dropped.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            let pragmas = pragmas.clone();
            let carts = carts.clone();
            #[cfg(feature = "test-support")]
            let statements = statements.clone();
            Box::pin(async move {
                use diesel_async::AsyncConnection as _;
                let mut conn = <$conn>::establish(&url).await?;
                #[cfg(feature = "test-support")]
                record_statements(&mut conn, &statements);
                conn.batch_execute(&pragmas)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                if let Some(carts) = carts {
                    use diesel::connection::SimpleConnection as _;
                    let c = conn.sync();
                    carts
                        .register(c)
                        .and_then(|()| c.batch_execute(cart_cache::TRIGGERS))
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::new_with_config($url.to_owned(), config);
        Pool::builder(manager).max_size($size).build()
    }};
}

/// A writer's connection with its turn at the gate, both given back
/// together. Fields drop in this order: the connection goes back (its
/// transaction ended), the cart cache hears that the turn's changes are
/// settled, and only then may the next writer begin.
pub struct Gated<O> {
    conn: O,
    _turn_ends: TurnEnds,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Tells the cart cache, when dropped, that a writer's turn has ended.
struct TurnEnds(std::sync::Arc<cart_cache::CartCache>);

impl Drop for TurnEnds {
    fn drop(&mut self) {
        self.0.settle();
    }
}

impl<O: std::ops::Deref> std::ops::Deref for Gated<O> {
    type Target = O::Target;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<O: std::ops::DerefMut> std::ops::DerefMut for Gated<O> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
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
        let done = match $store.conn().await? {
            // On SQLite a transaction of its own: its COMMIT leaves the
            // async worker.
            $crate::store::DbConn::Sqlite(conn) => {
                $crate::store::commit_durably(conn, async |$c| $body).await
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
        let done = match $store.conn().await? {
            $crate::store::DbConn::Sqlite(conn) => {
                $crate::store::commit_durably(conn, async |$c| $body).await
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

/// PostgreSQL's light commit: a transaction that does not wait for its
/// WAL to reach the disk (`synchronous_commit = off`, for it alone).
macro_rules! pg_light_tx {
    ($conn:ident, |$c:ident| $body:expr) => {{
        use diesel_async::AsyncConnection as _;
        use diesel_async::SimpleAsyncConnection as _;
        $conn
            .transaction(async |$c| {
                $c.batch_execute("SET LOCAL synchronous_commit TO OFF")
                    .await?;
                $body
            })
            .await
    }};
}

/// Runs `$body`, one write that commits on its own, as a light commit (see
/// [`Durability::Light`]).
macro_rules! light_conn {
    ($store:expr, |$c:ident| $body:expr) => {{
        let done = match $store.light().await? {
            $crate::store::LightConn::Sqlite(mut conn) => {
                let run = async |$c: &mut $crate::store::SqliteConn| $body;
                run(&mut *conn).await
            }
            $crate::store::LightConn::Pg(mut conn) => {
                $crate::store::pg_light_tx!(conn, |$c| $body)
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
        let done = match $store.light().await? {
            // A plain BEGIN: the gate already makes this the only writer.
            $crate::store::LightConn::Sqlite(mut conn) => {
                use diesel_async::AsyncConnection as _;
                conn.transaction(async |$c| $body).await
            }
            $crate::store::LightConn::Pg(mut conn) => {
                $crate::store::pg_light_tx!(conn, |$c| $body)
            }
        };
        $store.committed($crate::store::Durability::Light, done.is_ok());
        done
    }};
}

pub(crate) use light_conn;
pub(crate) use light_tx;
pub(crate) use pg_light_tx;
pub(crate) use read;
pub(crate) use with_conn;
pub(crate) use write_tx;

/// What a commit must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns (SQLite `synchronous = FULL`,
    /// PostgreSQL's default): orders, payments a provider holds, money,
    /// accounts.
    Durable,
    /// Survives the process dying at once; a machine that loses power may
    /// lose the last light commits, never a durable one or the order
    /// between them (SQLite `synchronous = NORMAL` in WAL mode, PostgreSQL
    /// `synchronous_commit = off`): carts, the place-order process's
    /// steps, leases, outbox bookkeeping, a cash payment before its order. Every step they record is safe
    /// to run again, and the next durable commit makes them durable too.
    Light,
}

/// Commits since start, by durability, and the waits for connections.
#[derive(Debug, Default)]
pub struct CommitCounts {
    durable: std::sync::atomic::AtomicU64,
    light: std::sync::atomic::AtomicU64,
    /// Waits for a connection: reading, and writing (on SQLite the turn
    /// at the write gate).
    read_waits: WaitCounts,
    write_waits: WaitCounts,
}

/// How many waits, and how long they took in all.
#[derive(Debug, Default)]
struct WaitCounts {
    count: std::sync::atomic::AtomicU64,
    micros: std::sync::atomic::AtomicU64,
}

impl WaitCounts {
    fn add(&self, since: std::time::Instant) {
        use std::sync::atomic::Ordering::Relaxed;
        self.count.fetch_add(1, Relaxed);
        let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Relaxed);
    }

    fn get(&self) -> (u64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        let micros = self.micros.load(Relaxed);
        (self.count.load(Relaxed), micros as f64 / 1e6)
    }
}

impl CommitCounts {
    /// (durable, light) commits so far.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.durable.load(Relaxed), self.light.load(Relaxed))
    }

    /// (waits, seconds waited) for a reading and for a writing connection.
    pub fn waits(&self) -> ((u64, f64), (u64, f64)) {
        (self.read_waits.get(), self.write_waits.get())
    }
}

/// The repository. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    commits: std::sync::Arc<CommitCounts>,
    catalogue: std::sync::Arc<catalogue_cache::CatalogueCache>,
    /// Every statement this store's SQLite connections ran, for the tests
    /// that look at their query plans.
    #[cfg(feature = "test-support")]
    statements: Statements,
}

/// The text of statements run, without their bound values.
#[cfg(feature = "test-support")]
type Statements = std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>;

/// Writes down each statement a connection starts (tests only).
#[cfg(feature = "test-support")]
fn record_statements(conn: &mut impl diesel_async::AsyncConnection, into: &Statements) {
    use diesel::connection::InstrumentationEvent;
    let into = into.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            let sql = text.split(" -- binds:").next().unwrap_or_default();
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(sql.to_owned());
        }
    });
}

/// How long a catalogue snapshot serves at most when this node changes
/// nothing (`Store::refresh_catalogue_within`).
const CATALOGUE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl Store {
    fn new(pool: DbPool) -> Self {
        let catalogue = catalogue_cache::CatalogueCache::new(CATALOGUE_TTL, pool.sole_writer());
        Self {
            pool,
            commits: std::sync::Arc::default(),
            catalogue: std::sync::Arc::new(catalogue),
            #[cfg(feature = "test-support")]
            statements: Statements::default(),
        }
    }

    /// Another node's change to the catalogue shows here within `ttl`
    /// (zero: the catalogue is read afresh every time).
    pub fn refresh_catalogue_within(mut self, ttl: std::time::Duration) -> Self {
        self.catalogue = std::sync::Arc::new(catalogue_cache::CatalogueCache::new(
            ttl,
            self.pool.sole_writer(),
        ));
        self
    }

    /// The statements this store's SQLite connections ran, each once.
    #[cfg(feature = "test-support")]
    pub fn statements_run(&self) -> Vec<String> {
        let seen = self.statements.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter().cloned().collect()
    }

    /// SQLite's plan for `sql` (`EXPLAIN QUERY PLAN`), one line per step;
    /// nothing on PostgreSQL.
    #[cfg(feature = "test-support")]
    pub async fn query_plan(&self, sql: &str) -> StoreResult<Vec<String>> {
        #[derive(diesel::QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        match self.read_conn().await? {
            ReadConn::Sqlite(mut conn) => {
                use diesel_async::RunQueryDsl as _;
                let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                    .load(&mut *conn)
                    .await?;
                Ok(steps.into_iter().map(|s| s.detail).collect())
            }
            ReadConn::Pg(_) => Ok(Vec::new()),
        }
    }

    /// How a transaction of `durability` is set to commit, as the database
    /// tells it inside one: SQLite's `synchronous` (2 FULL, 1 NORMAL),
    /// PostgreSQL's `synchronous_commit` (on, off).
    #[cfg(feature = "test-support")]
    pub async fn commit_setting(&self, durability: Durability) -> StoreResult<String> {
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            setting: String,
        }
        let sql = match &self.pool {
            DbPool::Sqlite { .. } => {
                "SELECT CAST(synchronous AS TEXT) AS setting FROM pragma_synchronous"
            }
            DbPool::Pg(_) => "SELECT current_setting('synchronous_commit') AS setting",
        };
        let ask = diesel::sql_query(sql);
        let setting: Setting = match durability {
            Durability::Durable => write_tx!(self, |c| {
                use diesel_async::RunQueryDsl as _;
                ask.get_result(c).await
            })?,
            Durability::Light => light_tx!(self, |c| {
                use diesel_async::RunQueryDsl as _;
                ask.get_result(c).await
            })?,
        };
        Ok(setting.setting)
    }

    /// Tries to create table `name` inside a read: every connection that
    /// serves reads must refuse (see [`SqliteRead`]).
    #[cfg(feature = "test-support")]
    pub async fn write_in_a_read(&self, name: &str) -> StoreResult<()> {
        let sql = format!("CREATE TABLE {name} (x INTEGER)");
        read!(self, |c| Ok(c.batch_execute(&sql).await?))
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

    /// A connection whose commits are durable.
    pub async fn conn(&self) -> StoreResult<DbConn> {
        let since = std::time::Instant::now();
        let conn = match &self.pool {
            DbPool::Sqlite { writer, gate, .. } => {
                DbConn::Sqlite(gate.writer(writer, Durability::Durable).await?)
            }
            DbPool::Pg(pool) => DbConn::Pg(pg_conn(pool).await?),
        };
        self.commits.write_waits.add(since);
        Ok(conn)
    }

    /// A connection for light commits (see [`Durability::Light`]).
    pub async fn light(&self) -> StoreResult<LightConn> {
        let since = std::time::Instant::now();
        let conn = match &self.pool {
            DbPool::Sqlite { writer, gate, .. } => {
                LightConn::Sqlite(gate.writer(writer, Durability::Light).await?)
            }
            DbPool::Pg(pool) => LightConn::Pg(pg_conn(pool).await?),
        };
        self.commits.write_waits.add(since);
        Ok(conn)
    }

    pub async fn read_conn(&self) -> StoreResult<ReadConn> {
        let pool_error = |e: diesel_async::pooled_connection::deadpool::PoolError| {
            StoreError::Pool(e.to_string())
        };
        let since = std::time::Instant::now();
        let conn = match &self.pool {
            DbPool::Sqlite {
                reader,
                writer,
                gate,
                ..
            } => match gate.idle_writer(writer).await {
                #[cfg(feature = "test-support")]
                Some(mut conn) => {
                    conn.batch_execute("PRAGMA query_only = ON").await?;
                    ReadConn::Sqlite(SqliteRead::Writer(conn))
                }
                #[cfg(not(feature = "test-support"))]
                Some(conn) => ReadConn::Sqlite(SqliteRead::Writer(conn)),
                None => {
                    ReadConn::Sqlite(SqliteRead::Reader(reader.get().await.map_err(pool_error)?))
                }
            },
            DbPool::Pg(pool) => ReadConn::Pg(pg_conn(pool).await?),
        };
        self.commits.read_waits.add(since);
        Ok(conn)
    }

    /// Opens the SQLite file (creating it), migrated, as two pools whose
    /// connections use WAL, wait for the write lock and check foreign keys:
    /// the one writer, for durable and light commits, and read-only
    /// readers.
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

        // Every connection: WAL, foreign keys, and as much patience for the
        // write lock as a writer has at the gate (other processes: the
        // admin commands).
        let common = format!(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = {busy_timeout_ms};"
        );
        let carts = std::sync::Arc::new(cart_cache::CartCache::default());
        // (Only test builds record statements; others never expand the
        // pools' last argument.)
        #[cfg(feature = "test-support")]
        let statements = Statements::default();
        // One writer: writers take turns at the gate anyway.
        let writer = sqlite_pool!(
            SqliteConn,
            &url,
            1,
            format!("{common} PRAGMA synchronous = FULL;"),
            Some(carts.clone()),
            &statements
        )?;
        // Readers refuse to write, so a write sent to them by mistake fails
        // in the tests instead of waiting for the write lock. Their page
        // cache is small: any commit empties it (WAL mode), and emptying
        // walks the whole cache, so a large one costs at every read after
        // a write and holds nothing worth keeping.
        let reader = sqlite_pool!(
            SqliteReader,
            &url,
            pool_size,
            format!("{common} PRAGMA query_only = ON; PRAGMA cache_size = -256;"),
            None,
            &statements
        )?;
        let store = Self::new(DbPool::Sqlite {
            writer,
            reader,
            gate: WriteGate::new(
                std::time::Duration::from_millis(busy_timeout_ms),
                carts.clone(),
            ),
            carts,
        });
        #[cfg(feature = "test-support")]
        let store = Self {
            statements,
            ..store
        };
        Ok(store)
    }

    /// Connects to PostgreSQL, migrated, as a pool.
    pub async fn open_postgres(url: &str, pool_size: usize) -> anyhow::Result<Self> {
        migrations::run_postgres(url).await?;
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // No `SELECT 1` round trip per checkout (see `open_sqlite`): a
        // connection lost to a server restart fails one unit of work, is
        // marked broken and is not handed out again.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
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
