-- Do-not-call lists shared by every instance: the version in force of each list, its
-- record and its snapshot (a Roaring serialization, ~0.3 byte per number).
CREATE TABLE list_versions (
    name      text PRIMARY KEY,
    version   bigint NOT NULL,
    meta      jsonb NOT NULL,
    snapshot  bytea NOT NULL,
    stored_at timestamptz NOT NULL
);
