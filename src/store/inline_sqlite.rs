//! diesel's SQLite connection behind diesel-async's traits, its statements
//! run on the calling thread and at once.
//!
//! diesel-async's own wrapper for a sync connection readies each query to
//! be sent to another thread: it writes out the query's SQL text, copies
//! its bound values and finds the prepared statement by that text. Here
//! the query is run where it is, as diesel runs it: a cached statement is
//! found by the query's type, and values are bound from where they are.
//! Rows are still copied out, since a diesel-async row stream must be
//! `Send` and SQLite's rows are not.
//!
//! Every future returned here is ready when made; `store::run_now` relies
//! on that.

use diesel::connection::{
    AnsiTransactionManager, CacheSize, Connection, Instrumentation, LoadConnection,
    SimpleConnection, TransactionManager as _, TransactionManagerStatus,
};
use diesel::query_builder::{AsQuery, AstPass, Query, QueryFragment, QueryId};
use diesel::row::IntoOwnedRow;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{ConnectionResult, QueryResult};
use diesel_async::{AsyncConnection, AsyncConnectionCore, SimpleAsyncConnection};
use std::future::{Ready, ready};

/// A row copied out of SQLite.
type OwnedRow = <<SqliteConnection as LoadConnection>::Row<'static, 'static> as IntoOwnedRow<
    'static,
    Sqlite,
>>::OwnedRow;

/// The rows of one query, read to the end.
type Rows = futures_util::stream::Iter<std::vec::IntoIter<QueryResult<OwnedRow>>>;

/// A SQLite connection whose statements run on the calling thread (see
/// the module's documentation).
pub struct InlineSqlite(SqliteConnection);

impl InlineSqlite {
    /// diesel's connection itself, for work done with its sync API.
    pub fn sync(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }

    fn rows<Q>(&mut self, query: Q) -> QueryResult<Rows>
    where
        Q: QueryFragment<Sqlite> + QueryId,
    {
        #[cfg(feature = "test-support")]
        same_sql_under_one_type(&query)?;
        let mut names = Default::default();
        let mut out = Vec::new();
        for row in self.0.load(Untyped(query))? {
            out.push(Ok(row?.into_owned(&mut names)));
        }
        Ok(futures_util::stream::iter(out))
    }

    /// Runs a statement that returns no rows: how many rows it changed.
    /// diesel's own `execute` takes the statement by reference, and a
    /// reference asks the statement's SQL whether it may be kept prepared,
    /// never the statement itself (`Untyped`); so it goes the way of a
    /// query, and SQLite tells the count.
    fn run<Q>(&mut self, statement: Q) -> QueryResult<usize>
    where
        Q: QueryFragment<Sqlite> + QueryId,
    {
        #[cfg(feature = "test-support")]
        same_sql_under_one_type(&statement)?;
        for row in self.0.load(Untyped(statement))? {
            row?;
        }
        let changed: i64 = diesel::RunQueryDsl::get_result(diesel::select(changes()), &mut self.0)?;
        Ok(usize::try_from(changed).unwrap_or_default())
    }
}

/// A statement diesel keeps prepared under its type (`store::prepared::
/// Keyed`, and diesel's own) must write the same SQL at every run, or a
/// run would find another run's statement: checked in test builds.
#[cfg(feature = "test-support")]
fn same_sql_under_one_type<Q>(query: &Q) -> QueryResult<()>
where
    Q: QueryFragment<Sqlite> + QueryId,
{
    use diesel::query_builder::QueryBuilder as _;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    // One for the process: the runs of a statement may be on any thread.
    static WRITTEN: OnceLock<Mutex<HashMap<std::any::TypeId, String>>> = OnceLock::new();
    let Some(id) = Q::query_id() else {
        return Ok(());
    };
    if !query.is_safe_to_cache_prepared(&Sqlite)? {
        return Ok(());
    }
    let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
    query.to_sql(&mut builder, &Sqlite)?;
    let sql = builder.finish();
    let mut written = WRITTEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let first = written.entry(id).or_insert_with(|| sql.clone());
    assert_eq!(
        *first, sql,
        "a statement kept prepared under one type wrote other SQL"
    );
    Ok(())
}

diesel::define_sql_function! {
    /// Rows changed by the last INSERT, UPDATE or DELETE (SQLite's own).
    fn changes() -> diesel::sql_types::BigInt;
}

impl SimpleAsyncConnection for InlineSqlite {
    fn batch_execute(
        &mut self,
        query: &str,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        ready(self.0.batch_execute(query))
    }
}

impl AsyncConnectionCore for InlineSqlite {
    type ExecuteFuture<'conn, 'query> = Ready<QueryResult<usize>>;
    type LoadFuture<'conn, 'query> = Ready<QueryResult<Rows>>;
    type Stream<'conn, 'query> = Rows;
    type Row<'conn, 'query> = OwnedRow;
    type Backend = Sqlite;

    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> Self::LoadFuture<'conn, 'query>
    where
        T: AsQuery + 'query,
        T::Query: QueryFragment<Sqlite> + QueryId + 'query,
    {
        ready(self.rows(source.as_query()))
    }

    fn execute_returning_count<'conn, 'query, T>(
        &'conn mut self,
        source: T,
    ) -> Self::ExecuteFuture<'conn, 'query>
    where
        T: QueryFragment<Sqlite> + QueryId + 'query,
    {
        ready(self.run(source))
    }
}

impl AsyncConnection for InlineSqlite {
    type TransactionManager = InlineTransactions;

    fn establish(
        database_url: &str,
    ) -> impl std::future::Future<Output = ConnectionResult<Self>> + Send {
        ready(SqliteConnection::establish(database_url).map(Self))
    }

    fn transaction_state(&mut self) -> &mut AnsiTransactionManager {
        self.0.transaction_state()
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        self.0.instrumentation()
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        self.0.set_instrumentation(instrumentation);
    }

    fn set_prepared_statement_cache_size(&mut self, size: CacheSize) {
        self.0.set_prepared_statement_cache_size(size);
    }
}

impl diesel_async::pooled_connection::PoolableConnection for InlineSqlite {}

/// diesel's own transactions of the connection (BEGIN, savepoints,
/// COMMIT), run at once.
pub struct InlineTransactions;

impl diesel_async::TransactionManager<InlineSqlite> for InlineTransactions {
    type TransactionStateData = AnsiTransactionManager;

    fn begin_transaction(
        conn: &mut InlineSqlite,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        ready(AnsiTransactionManager::begin_transaction(&mut conn.0))
    }

    fn rollback_transaction(
        conn: &mut InlineSqlite,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        ready(AnsiTransactionManager::rollback_transaction(&mut conn.0))
    }

    fn commit_transaction(
        conn: &mut InlineSqlite,
    ) -> impl std::future::Future<Output = QueryResult<()>> + Send {
        ready(AnsiTransactionManager::commit_transaction(&mut conn.0))
    }

    fn transaction_manager_status_mut(conn: &mut InlineSqlite) -> &mut TransactionManagerStatus {
        AnsiTransactionManager::transaction_manager_status_mut(&mut conn.0)
    }
}

/// A query read as untyped rows: the caller's types decode them later, as
/// with diesel-async's own wrapper. Its statement is cached under the
/// query's own type, its SQL is the query's, and so is the answer to
/// whether it may be kept prepared.
struct Untyped<Q>(Q);

impl<Q: QueryId> QueryId for Untyped<Q> {
    type QueryId = Q::QueryId;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q: QueryFragment<Sqlite>> QueryFragment<Sqlite> for Untyped<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// The query's own answer: one kept prepared on purpose
    /// (`store::prepared`) says so itself, not through its SQL.
    fn is_safe_to_cache_prepared(&self, backend: &Sqlite) -> QueryResult<bool> {
        self.0.is_safe_to_cache_prepared(backend)
    }
}

impl<Q> Query for Untyped<Q> {
    type SqlType = diesel::sql_types::Untyped;
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use super::*;
    use crate::store::prepared::Prepare;
    use crate::store::run_now;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    diesel::table! {
        notes (id) {
            id -> Integer,
            body -> Text,
            seen -> Bool,
        }
    }

    fn connection() -> InlineSqlite {
        let mut conn = run_now(InlineSqlite::establish(":memory:")).unwrap();
        run_now(conn.batch_execute(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, seen BOOL NOT NULL);
             INSERT INTO notes VALUES (1, 'a', FALSE);",
        ))
        .unwrap();
        conn
    }

    /// An UPDATE whose text depends on whether `seen` is set, kept under
    /// the type `K`.
    fn change<K: 'static>(conn: &mut InlineSqlite, seen: Option<bool>) -> QueryResult<usize> {
        run_now(
            diesel::update(notes::table.find(1))
                .set((notes::body.eq("b"), seen.map(|s| notes::seen.eq(s))))
                .prepared_as::<K>()
                .execute(conn),
        )
    }

    #[test]
    fn a_statement_kept_under_its_type_runs_again_with_the_same_text() {
        struct SeenSet;
        let mut conn = connection();
        assert_eq!(change::<SeenSet>(&mut conn, Some(true)).unwrap(), 1);
        assert_eq!(change::<SeenSet>(&mut conn, Some(false)).unwrap(), 1);
    }

    #[test]
    #[should_panic(expected = "wrote other SQL")]
    fn a_statement_kept_under_one_type_with_other_text_is_caught() {
        struct SeenMaybeSet;
        let mut conn = connection();
        change::<SeenMaybeSet>(&mut conn, Some(true)).unwrap();
        let _ = change::<SeenMaybeSet>(&mut conn, None);
    }
}
