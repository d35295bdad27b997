-- The secret of the guest session that owns a cart without an account.
-- Guest carts from before this column have no owner and are left behind.
ALTER TABLE carts ADD COLUMN guest_token TEXT;
