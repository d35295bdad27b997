-- Indexes that every write of their row rewrote, for lookups served as
-- well without them.
--
-- Running processes by age: `updated_at` changes at every save of a
-- process, so its entry was rewritten at every save. The sweeper's
-- lookups name the implied bound on `created_at` (a process updated
-- before a time was created before it), whose entry changes only when
-- the process becomes final.
-- IF EXISTS: a database migrated by an earlier build, whose 000070 made
-- only orders_by_cart, has no index by age (000090 adds the rest).
DROP INDEX IF EXISTS place_order_process_by_age;
CREATE INDEX place_order_process_by_start ON place_order_process (is_final, created_at);
-- The live order of a cart: the partial unique index
-- `orders_one_live_per_cart` serves the lookups, which name its
-- predicate as written (`status <> 'cancelled'`); no lookup asks for a
-- cart's orders whatever their status.
DROP INDEX IF EXISTS orders_by_cart;
