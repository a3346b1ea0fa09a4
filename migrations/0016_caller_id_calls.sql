-- The calls placed from caller-ID pool numbers: one row per call (its try that may have
-- reached the provider), counted under a per-number advisory lock so that the numbers'
-- hourly and daily caps hold for the whole deployment; the outcome, once known, feeds the
-- pickup rates, streaks and the automatic rest. Rows older than the pool's window (and two
-- days) are deleted by the takes.
CREATE TABLE caller_id_calls (
    request_id text PRIMARY KEY,
    number text NOT NULL,
    phone text NOT NULL,
    at timestamptz NOT NULL,
    outcome text,
    outcome_at timestamptz
);
CREATE INDEX caller_id_calls_at ON caller_id_calls (at);
CREATE INDEX caller_id_calls_number_at ON caller_id_calls (number, at);
CREATE INDEX caller_id_calls_phone_at ON caller_id_calls (phone, at);
