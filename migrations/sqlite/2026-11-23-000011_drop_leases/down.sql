-- A lease is held by one node until it expires: work that must run once
-- across nodes takes it by compare-and-swap.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
