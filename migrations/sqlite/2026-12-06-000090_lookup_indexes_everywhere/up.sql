-- A database migrated by an earlier build whose 000070 made only
-- orders_by_cart (under the version of today's 000070, which therefore
-- never ran there) lacks the lookup of registrations by their API id;
-- elsewhere it is there already.
CREATE INDEX IF NOT EXISTS registrations_by_registration_id ON registrations (registration_id);
