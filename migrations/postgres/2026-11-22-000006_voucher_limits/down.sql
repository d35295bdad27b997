ALTER TABLE vouchers DROP COLUMN uses;
ALTER TABLE vouchers DROP COLUMN max_uses;
ALTER TABLE vouchers DROP COLUMN valid_until;
