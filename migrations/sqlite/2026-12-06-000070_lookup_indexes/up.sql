-- Lookups that read every row without these (`tests/api/query_plans.rs`).
--
-- An order by its cart, whatever its status. The partial unique index
-- `orders_one_live_per_cart` serves only queries that name its predicate
-- as written (`status <> 'cancelled'`); a query that binds the status as
-- a parameter cannot use it.
CREATE INDEX orders_by_cart ON orders (cart_id);
-- The sweeper's running processes, oldest first (the partial index of
-- running processes has the same trouble with a bound `is_final`).
CREATE INDEX place_order_process_by_age ON place_order_process (is_final, updated_at);
-- A registration by the id the registration API gave it (the outbox
-- confirms and deletes by it).
CREATE INDEX registrations_by_registration_id ON registrations (registration_id);
