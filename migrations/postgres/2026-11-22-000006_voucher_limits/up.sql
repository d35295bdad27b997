-- The terms of a voucher's use, checked when an order is placed. A use is
-- counted in the order's transaction and given back when it is cancelled.
ALTER TABLE vouchers ADD COLUMN valid_until TIMESTAMP;
ALTER TABLE vouchers ADD COLUMN max_uses BIGINT CHECK (max_uses >= 0);
ALTER TABLE vouchers ADD COLUMN uses BIGINT NOT NULL DEFAULT 0 CHECK (uses >= 0);
