DROP INDEX payments_by_provider_reference;
DROP TABLE webhook_events;
