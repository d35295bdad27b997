CREATE TABLE products (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    vat_rate_bp BIGINT NOT NULL,
    stock BIGINT NOT NULL CHECK (stock >= 0),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    position BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE shipping_methods (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    vat_rate_bp BIGINT NOT NULL,
    free_above_minor BIGINT,
    position BIGINT NOT NULL
);

CREATE TABLE vouchers (
    code TEXT PRIMARY KEY NOT NULL,
    percent BIGINT NOT NULL CHECK (percent BETWEEN 1 AND 100),
    active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE carts (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users (id),
    status TEXT NOT NULL,
    checkout TEXT,
    order_id TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE cart_lines (
    cart_id TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('order_number', 0);

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    -- The secret of the confirmation link (number + token).
    token TEXT NOT NULL,
    cart_id TEXT NOT NULL REFERENCES carts (id),
    user_id TEXT REFERENCES users (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    shipping_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    vat_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    shipping_method TEXT NOT NULL,
    voucher_code TEXT,
    details TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
-- One cart gives at most one order that is not cancelled, whatever races
-- happen above; a cancelled attempt leaves the cart free for the next.
CREATE UNIQUE INDEX orders_one_live_per_cart ON orders (cart_id) WHERE status <> 'cancelled';

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (id),
    position BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    vat_rate_bp BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- A payment exists from the moment it is started at its provider; it gets
-- its order when the order is placed.
CREATE TABLE payments (
    id TEXT PRIMARY KEY NOT NULL,
    process_id TEXT NOT NULL,
    cart_id TEXT NOT NULL REFERENCES carts (id),
    order_id TEXT REFERENCES orders (id),
    gateway TEXT NOT NULL,
    method TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    provider_reference TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_by_order ON payments (order_id);
