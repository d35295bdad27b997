DROP TABLE outbox;
DROP TABLE registrations;
