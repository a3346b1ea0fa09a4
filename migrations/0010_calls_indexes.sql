-- The lookups by phone, lead id and request id read the call journal only: index its rows
-- alone (blocked attempts would double every index entry on the hot path).
DROP INDEX journal_lines_phone;
DROP INDEX journal_lines_lead;
DROP INDEX journal_lines_request;
CREATE INDEX journal_lines_phone ON journal_lines (phone, at) WHERE journal = 'calls';
CREATE INDEX journal_lines_lead ON journal_lines (lead_id, at) WHERE journal = 'calls';
CREATE INDEX journal_lines_request ON journal_lines (request_id) WHERE journal = 'calls';
