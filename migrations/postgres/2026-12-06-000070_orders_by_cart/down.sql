DROP INDEX orders_by_cart;
