-- Outbox rows may now also be "failed": given up on, the reason in
-- last_error, kept for a person to look at.

-- Each payment attempt and each order name the buyer's registration they
-- belong to, so an event of an old attempt never touches a newer one's.
ALTER TABLE payments ADD COLUMN registration_id TEXT;
ALTER TABLE orders ADD COLUMN registration_id TEXT;
-- When the reconciliation last asked the provider about a waiting payment:
-- the oldest-checked go first, so none is starved.
ALTER TABLE payments ADD COLUMN checked_at TIMESTAMP;
UPDATE payments SET checked_at = created_at;
CREATE INDEX payments_waiting ON payments (status, gateway, checked_at);
