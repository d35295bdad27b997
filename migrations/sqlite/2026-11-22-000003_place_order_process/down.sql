DROP TABLE place_order_process;
