ALTER TABLE carts DROP COLUMN guest_token;
