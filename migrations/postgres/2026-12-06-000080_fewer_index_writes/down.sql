CREATE INDEX orders_by_cart ON orders (cart_id);
DROP INDEX place_order_process_by_start;
CREATE INDEX place_order_process_by_age ON place_order_process (is_final, updated_at);
