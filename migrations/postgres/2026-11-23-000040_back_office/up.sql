-- The back office: deliveries of an order's lines, the money of a payment
-- after checkout, each money operation sent to the provider, and the
-- order's timeline.
ALTER TABLE payments ADD COLUMN captured_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN released BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE payments SET captured_minor = amount_minor WHERE status IN ('captured', 'refunded');
UPDATE payments SET refunded_minor = amount_minor WHERE status = 'refunded';

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    status TEXT NOT NULL,
    carrier TEXT,
    tracking_number TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_by_order ON deliveries (order_id);

CREATE TABLE delivery_lines (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    position BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, position)
);

-- One row per capture, release or refund, sent once per key; `requested`
-- until the provider answers.
CREATE TABLE payment_operations (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    payment_id TEXT NOT NULL REFERENCES payments (id),
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payment_operations_by_order ON payment_operations (order_id);
CREATE INDEX payment_operations_requested ON payment_operations (status, updated_at);

CREATE TABLE order_events (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX order_events_by_order ON order_events (order_id, at);
CREATE INDEX orders_by_created ON orders (created_at);

-- Which payment a provider event was about, for the order's timeline.
ALTER TABLE webhook_events ADD COLUMN provider_reference TEXT;
CREATE INDEX webhook_events_by_payment ON webhook_events (provider_reference);
