DROP INDEX registrations_by_registration_id;
DROP INDEX place_order_process_by_age;
DROP INDEX orders_by_cart;
