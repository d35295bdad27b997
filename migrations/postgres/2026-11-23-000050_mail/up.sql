-- Mails to shoppers: one row per mail, queued in the transaction of the
-- change that causes it and sent by the mail worker through the outbox.
CREATE TABLE mails (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT REFERENCES orders (id),
    user_id TEXT REFERENCES users (id),
    -- What the mail is about beyond its order or account (a delivery, a
    -- refund, a reset request, why an order was cancelled).
    reference TEXT NOT NULL,
    -- order or account, kind and reference: a change that runs twice
    -- queues its mail once. NULL for a mail staff sent again.
    dedupe TEXT UNIQUE,
    recipient TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    -- queued, sent or failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    -- What was sent, kept once it was.
    subject TEXT,
    text_body TEXT,
    html_body TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX mails_by_order ON mails (order_id, created_at);

-- A request to set a new password: only a hash of its token is kept.
CREATE TABLE password_resets (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX password_resets_by_user ON password_resets (user_id, created_at);
