-- The place-order state machine, one row per attempt to order a cart.
CREATE TABLE place_order_process (
    id TEXT PRIMARY KEY NOT NULL,
    cart_id TEXT NOT NULL REFERENCES carts (id),
    state TEXT NOT NULL,
    -- The typed state data (JSON), saved after every step.
    context TEXT NOT NULL,
    -- Set when the process fails; the rollbacks run before it is Failed.
    failure TEXT,
    idempotency_key TEXT NOT NULL,
    is_final BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    -- Who is stepping the process, until when (a dead node's lease expires).
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- At most one process per cart is running at a time.
CREATE UNIQUE INDEX place_order_process_one_running_per_cart
    ON place_order_process (cart_id) WHERE is_final = FALSE;
CREATE INDEX place_order_process_by_cart ON place_order_process (cart_id, created_at);
