-- Back-office accounts, apart from the shoppers in `users`.
CREATE TABLE staff (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- A signed-in staff member. The cookie holds the id; only its SHA-256 is
-- stored, so a copy of this table opens no session.
CREATE TABLE staff_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_by_last_seen ON staff_sessions (last_seen_at);

-- Back-office logins counted against the limits, by the email typed (known
-- or not) and the client's address; kept for the limits' window.
CREATE TABLE staff_login_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL
);
CREATE INDEX staff_login_attempts_by_email ON staff_login_attempts (email, attempted_at);
CREATE INDEX staff_login_attempts_by_ip ON staff_login_attempts (ip, attempted_at);

-- Keys of integrators for /api/v1, stored as SHA-256 (a key is random and
-- long, so a fast hash is enough). One live key per name.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_one_live_per_name ON api_keys (name) WHERE revoked_at IS NULL;

-- The first answer to each API POST per caller and Idempotency-Key, kept a
-- day for repeats. The row is inserted before the work runs, so of two
-- nodes racing with one key only one runs it.
CREATE TABLE api_idempotency (
    caller_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    status_code BIGINT,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (caller_key_id, idempotency_key)
);
CREATE INDEX api_idempotency_by_created ON api_idempotency (created_at);
