-- Deferred leads, one row per lead id + number. A release is claimed by one instance: the
-- row gets the request id the release will use (`releasing`) and a lease, committed before
-- the pipeline decides; a release whose instance died is found by its expired lease and
-- settled by whether that request id reached the outbox.
CREATE TABLE deferred (
    id                text PRIMARY KEY,
    lead_id           text NOT NULL,
    phone             text NOT NULL,
    request_id        text NOT NULL,
    lead              jsonb NOT NULL,
    first_deferred_at timestamptz NOT NULL,
    deferred_at       timestamptz NOT NULL,
    release_at        timestamptz NOT NULL,
    stage             text NOT NULL,
    reason            text NOT NULL,
    releases          integer NOT NULL DEFAULT 0,
    releasing         text,
    claimed_by        text,
    claim_expires     timestamptz,
    UNIQUE (lead_id, phone)
);
CREATE INDEX deferred_due ON deferred (release_at) WHERE releasing IS NULL;
CREATE INDEX deferred_phone ON deferred (phone, stage);
