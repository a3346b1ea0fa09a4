-- Blocklist flags. `flag_changes` is the replication log every instance follows: each
-- write appends its change in the same transaction and announces the new `seq` on
-- `callgate_flags`; an instance applies the changes after the last `seq` it has (on a
-- notification, and by polling in case one was missed).
CREATE TABLE flags (
    id         text PRIMARY KEY,
    field      text NOT NULL,
    value      text NOT NULL,
    reason     text,
    added_by   text,
    added_at   timestamptz NOT NULL,
    expires_at timestamptz,
    updated_at timestamptz,
    -- insertion order: flags added in the same millisecond are listed as they came
    ord        bigserial NOT NULL
);
CREATE INDEX flags_field_value ON flags (field, value);

CREATE TABLE blocklist_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled   boolean NOT NULL
);
INSERT INTO blocklist_state (singleton, enabled) VALUES (true, true);

CREATE TABLE flag_changes (
    seq     bigserial PRIMARY KEY,
    op      text NOT NULL CHECK (op IN ('put', 'delete', 'enabled')),
    flag_id text,
    flag    jsonb,
    enabled boolean,
    at      timestamptz NOT NULL
);
