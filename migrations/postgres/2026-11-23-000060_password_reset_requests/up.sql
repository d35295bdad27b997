-- Requests for a password-reset link, by the client's address, counted
-- against the per-address limit whatever email was typed (the per-account
-- limit counts `password_resets`); kept for the limit's window.
CREATE TABLE password_reset_requests (
    id TEXT PRIMARY KEY NOT NULL,
    ip TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX password_reset_requests_by_ip ON password_reset_requests (ip, requested_at);
