DROP INDEX orders_by_created;
DROP TABLE order_events;
DROP TABLE payment_operations;
DROP TABLE delivery_lines;
DROP TABLE deliveries;
ALTER TABLE payments DROP COLUMN released;
ALTER TABLE payments DROP COLUMN refunded_minor;
ALTER TABLE payments DROP COLUMN captured_minor;
