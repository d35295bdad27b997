-- The buyer's registration with the external customer system, per cart.
CREATE TABLE registrations (
    cart_id TEXT PRIMARY KEY NOT NULL REFERENCES carts (id),
    email TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    -- pending, confirmed or deleted
    status TEXT NOT NULL,
    -- Counts new registrations for the cart, so each gets its own key.
    generation BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX registrations_by_status ON registrations (status, created_at);

-- Domain events written in the same transaction as the change they
-- describe; a worker on every node delivers them (each row claimed once).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    cart_id TEXT NOT NULL,
    -- JSON with what the handler needs beyond the cart.
    payload TEXT NOT NULL,
    -- pending or done
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
