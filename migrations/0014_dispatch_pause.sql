-- A 429 from the call provider pauses sending for the whole deployment: `paused_until` is
-- the instant (the gateway's clock) before which no instance claims a call, `paused_why`
-- the provider's answer. Claims read it under the dispatch lock, with `next_at`.
ALTER TABLE dispatch_pace ADD COLUMN paused_until timestamptz;
ALTER TABLE dispatch_pace ADD COLUMN paused_why text;
