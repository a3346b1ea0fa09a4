-- When each try of a call started, for BLAND_MAX_CALLS_PER_HOUR and BLAND_MAX_CALLS_PER_DAY:
-- claims count the rows of the current hour and business day under the dispatch lock, so
-- the limits hold for the whole deployment. Rows older than two days are deleted by the
-- claims.
CREATE TABLE dispatch_starts (
    at timestamptz NOT NULL
);
CREATE INDEX dispatch_starts_at ON dispatch_starts (at);
