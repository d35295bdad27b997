//! Leases: a named right to do something alone, held until it expires, so
//! a dead node's lease is taken over. Taken and renewed by compare-and-swap
//! in the database, which every node shares.

use super::schema::leases;
use super::{Store, StoreResult, now, with_conn};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::Duration;

impl Store {
    /// Takes or renews the lease `name` for `owner` for `ttl`. `false` when
    /// another owner holds it and it has not expired.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let at = now();
        let until = at + ttl;
        let taken: usize = with_conn!(self, |c| {
            let inserted = diesel::insert_into(leases::table)
                .values((
                    leases::name.eq(name),
                    leases::owner.eq(owner),
                    leases::expires_at.eq(until),
                    leases::version.eq(1),
                ))
                .on_conflict_do_nothing()
                .execute(c)
                .await?;
            if inserted == 1 {
                return Ok(1);
            }
            // One statement, so two nodes cannot both see it free.
            diesel::update(
                leases::table
                    .find(name)
                    .filter(leases::owner.eq(owner).or(leases::expires_at.lt(at))),
            )
            .set((
                leases::owner.eq(owner),
                leases::expires_at.eq(until),
                leases::version.eq(leases::version + 1),
            ))
            .execute(c)
            .await
        })?;
        Ok(taken == 1)
    }

    /// Gives the lease up if `owner` holds it.
    pub async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        with_conn!(self, |c| {
            diesel::delete(leases::table.find(name).filter(leases::owner.eq(owner)))
                .execute(c)
                .await
        })?;
        Ok(())
    }
}
