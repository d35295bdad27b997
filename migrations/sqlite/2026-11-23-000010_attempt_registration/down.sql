DROP INDEX payments_waiting;
ALTER TABLE payments DROP COLUMN checked_at;
ALTER TABLE orders DROP COLUMN registration_id;
ALTER TABLE payments DROP COLUMN registration_id;
