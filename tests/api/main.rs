//! Integration tests: each test starts the real server on port 0 with a
//! fresh SQLite file and drives it over HTTP like a browser would.

mod accounts;
mod admin_pages;
mod architecture;
mod attempts;
mod back_office;
mod cart;
mod cart_ownership;
mod chaos;
mod checkout_flags;
mod checkout_flow;
mod checkout_validation;
mod commits;
mod compression;
mod crash_matrix;
mod fuzz;
mod helpers;
mod hosted;
mod html_valid;
mod junk_input;
mod logs;
mod mail_transport;
mod mails;
mod nodes;
mod orders_api;
mod password_reset;
mod payment_operations;
mod place_order;
mod process;
mod registration;
mod scripted_gateway;
mod seed_story;
mod shutdown;
mod smtp;
mod staff;
mod vouchers;
