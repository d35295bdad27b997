-- The place-order lock is the lease on each place_order_process row and the
-- outbox worker claims each outbox row: this table was never used.
DROP TABLE leases;
