-- The call journal and the blocked-attempts journal as rows. Each row keeps the JSON line
-- exactly as the file backend writes it (`line`, text, so the statistics readers fold the
-- same bytes from either backend), its business date in TIMEZONE, and the keys lookups
-- and the trackers search by.
CREATE TABLE journal_lines (
    id            bigserial PRIMARY KEY,
    journal       text NOT NULL CHECK (journal IN ('calls', 'attempts')),
    business_date date NOT NULL,
    at            timestamptz NOT NULL,
    request_id    text,
    lead_id       text,
    phone         text,
    call_id       text,
    line          text NOT NULL
);
CREATE INDEX journal_lines_day ON journal_lines (journal, business_date, id);
CREATE INDEX journal_lines_phone ON journal_lines (phone, at) WHERE phone IS NOT NULL;
CREATE INDEX journal_lines_lead ON journal_lines (lead_id, at) WHERE lead_id IS NOT NULL;
CREATE INDEX journal_lines_request ON journal_lines (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX journal_lines_call ON journal_lines (call_id) WHERE call_id IS NOT NULL;
