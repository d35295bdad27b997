DROP TABLE api_idempotency;
DROP TABLE api_keys;
DROP TABLE staff_login_attempts;
DROP TABLE staff_sessions;
DROP TABLE staff;
