//! Keeps an UPDATE or an upsert as a prepared statement. diesel marks every
//! such statement unsafe to cache, because an optional field in a changeset
//! changes the SQL text, and so prepares it anew at each run: on a
//! checkout that was a twentieth of SQLite's time. Our statements are
//! cached by their SQL text (they have no static query id), so a statement
//! whose text varies is simply cached once per text.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};

/// `Q`, cached as a prepared statement by its SQL text.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(Q);

pub trait Prepare: Sized {
    /// This statement, kept prepared for its next run.
    fn prepared(self) -> Prepared<Self> {
        Prepared(self)
    }

    /// This statement, kept prepared under `K`, a type of its call site's
    /// own: for a statement whose SQL text is the same at every run (no
    /// optional field in its changeset, no list of varying length).
    fn prepared_as<K: 'static>(self) -> Keyed<Self, K> {
        Keyed(self, std::marker::PhantomData)
    }
}

/// `Q`, cached as a prepared statement under the type `K`: diesel finds
/// it by `K` instead of writing out its SQL at every run to look it up
/// (about ten thousand instructions a statement). Test builds check that
/// every run under one `K` writes the same SQL (`inline_sqlite`).
pub struct Keyed<Q, K>(Q, std::marker::PhantomData<fn() -> K>);

impl<Q, K: 'static> QueryId for Keyed<Q, K> {
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB: Backend, Q: QueryFragment<DB>, K> QueryFragment<DB> for Keyed<Q, K> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query, K> diesel::query_builder::Query for Keyed<Q, K> {
    type SqlType = Q::SqlType;
}

impl<Q> Prepare for Q {}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

#[cfg(test)]
mod tests {
    use super::Prepare;
    use crate::store::schema::carts;
    use diesel::prelude::*;
    use diesel::query_builder::QueryFragment;
    use diesel::sqlite::Sqlite;

    #[test]
    fn an_update_is_kept_prepared_only_when_asked_and_reads_the_same() {
        let update = || diesel::update(carts::table.find("c")).set(carts::version.eq(2));
        let cacheable = |q: &dyn QueryFragment<Sqlite>| q.is_safe_to_cache_prepared(&Sqlite);
        assert!(!cacheable(&update()).unwrap());
        assert!(cacheable(&update().prepared()).unwrap());
        assert_eq!(
            diesel::debug_query::<Sqlite, _>(&update()).to_string(),
            diesel::debug_query::<Sqlite, _>(&update().prepared()).to_string()
        );
    }
}
