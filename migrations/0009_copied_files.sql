-- `callgate migrate --to-database`: each journal file copied, recorded in the same
-- transaction as its lines, so running the copy again skips it (idempotent).
CREATE TABLE copied_files (
    path      text PRIMARY KEY,
    lines     bigint NOT NULL,
    copied_at timestamptz NOT NULL
);
