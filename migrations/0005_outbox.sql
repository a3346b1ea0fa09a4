-- Accepted calls and their sends. A send is claimed by one instance (FOR UPDATE SKIP
-- LOCKED) and the claim, with its attempt, is committed before the request leaves: a
-- crashed instance's claim expires and the call becomes `unconfirmed` (Bland may have it),
-- never sent twice. Finished calls stay as `closed` rows (a release cut short is settled by
-- whether its request id reached the outbox).
CREATE TABLE outbox (
    request_id    text PRIMARY KEY,
    lead_id       text NOT NULL,
    phone         text NOT NULL,
    body          jsonb NOT NULL,
    state         text NOT NULL CHECK (state IN ('queued', 'in_flight', 'unconfirmed', 'failed', 'closed')),
    queued_at     timestamptz NOT NULL,
    next_try_at   timestamptz NOT NULL,
    attempts      jsonb NOT NULL DEFAULT '[]',
    last_error    text,
    claimed_by    text,
    claim_expires timestamptz,
    outcome       text,
    call_id       text,
    closed_at     timestamptz
);
CREATE INDEX outbox_due ON outbox (next_try_at, queued_at) WHERE state = 'queued';
CREATE INDEX outbox_claims ON outbox (claim_expires) WHERE state = 'in_flight';
CREATE INDEX outbox_open ON outbox (queued_at) WHERE state <> 'closed';
