-- The follow-up texts: one row per text of a lead's sequence, the whole text in `record`
-- (its state mirrored in `state` for the queries). A sender claims due rows with
-- `FOR UPDATE SKIP LOCKED` and a deadline (`claimed_until`), so two instances never send
-- one text; a row left `sending` past its deadline becomes `unconfirmed`.
CREATE TABLE texts (
    id text PRIMARY KEY,
    phone text NOT NULL,
    state text NOT NULL,
    due_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    claimed_until timestamptz,
    record jsonb NOT NULL
);
CREATE INDEX texts_due ON texts (due_at) WHERE state = 'scheduled';
CREATE INDEX texts_phone ON texts (phone, created_at);
