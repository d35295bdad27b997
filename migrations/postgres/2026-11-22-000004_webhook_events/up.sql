-- Provider events seen, so a repeated delivery is applied once.
CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_by_provider_reference ON payments (provider_reference);
