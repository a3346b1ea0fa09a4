-- Admin-editable config documents (scheduler, answering machine, protection, …): one row
-- per document, versioned for optimistic concurrency. A change is announced on the
-- `callgate_documents` channel (payload: the document's name) so every instance reloads it.
CREATE TABLE documents (
    name       text PRIMARY KEY,
    body       jsonb NOT NULL,
    version    bigint NOT NULL CHECK (version > 0),
    updated_at timestamptz NOT NULL
);
