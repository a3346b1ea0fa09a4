-- Dispatch across instances. `call_outcomes` records each Bland completion once per
-- call_id (a retry reaching another instance is a duplicate). `dispatch_pace` holds the
-- earliest instant the next send may start, so BLAND_MAX_CALLS_PER_SECOND is a limit for
-- the whole deployment; claims read and advance it under one transaction-scoped lock.
CREATE TABLE call_outcomes (
    call_id    text PRIMARY KEY,
    request_id text,
    at         timestamptz NOT NULL
);

CREATE TABLE dispatch_pace (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    next_at   timestamptz NOT NULL
);
INSERT INTO dispatch_pace (singleton, next_at) VALUES (true, '1970-01-01T00:00:00Z');

CREATE INDEX outbox_call_id ON outbox (call_id) WHERE call_id IS NOT NULL;
