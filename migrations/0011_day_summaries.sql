-- Per-day rollups of the journals for the statistics: a closed day's summary, kept with
-- the number of rows it covers (a day whose count changed is summarised again), shared by
-- every instance so a day is read in full once.
CREATE TABLE day_summaries (
    journal       text NOT NULL,
    business_date date NOT NULL,
    lines         bigint NOT NULL,
    summary       jsonb NOT NULL,
    PRIMARY KEY (journal, business_date)
);
