-- An order by its cart, whatever its status. The partial unique index
-- `orders_one_live_per_cart` serves only queries that name its predicate
-- as written (`status <> 'cancelled'`); a query that binds the status as
-- a parameter cannot use it, and read every order instead.
CREATE INDEX orders_by_cart ON orders (cart_id);
