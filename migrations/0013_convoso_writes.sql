-- Writes to Convoso (lead updates, DNC inserts) waiting to be sent, failing, given up or
-- done. `body` is the whole write (the file backend's line); the columns are what claims
-- and listings select on. A claim holds a write for `lease_until`; a write whose claimer
-- died is taken again after it.
CREATE TABLE convoso_writes (
    id          text PRIMARY KEY,
    state       text NOT NULL,
    next_at     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    lease_until timestamptz,
    body        jsonb NOT NULL
);
CREATE INDEX convoso_writes_due ON convoso_writes (next_at) WHERE state IN ('queued', 'failing');
CREATE INDEX convoso_writes_open ON convoso_writes (created_at) WHERE state IN ('queued', 'failing', 'gave_up');
