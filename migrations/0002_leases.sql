-- Singleton work across instances (the release task, retention, feed refreshes): one row
-- per lease; an instance holds it until `expires_at`, renewing it while it works. Time is
-- the caller's (the service clock), so tests can move it.
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
