-- The last good copy of each remote feed, shared: an instance that starts without network
-- still blocks with the list another instance fetched.
CREATE TABLE feed_cache (
    name       text PRIMARY KEY,
    fetched_at timestamptz NOT NULL,
    entries    jsonb NOT NULL
);
