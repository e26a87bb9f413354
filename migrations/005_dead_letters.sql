-- 005_dead_letters.sql — veep-bridge addition: input that was refused, kept rather than dropped.
--
-- One row per refused payload: the topic it arrived on, its raw bytes unchanged, a stable reason code
-- (see RejectionReason: invalid_json, not_an_object, nul_character, ..., store_refused), a
-- human-readable detail (for store_refused: the SQLSTATE and PostgreSQL's message) and when it was
-- received. Reason codes are not constrained by a CHECK so that a newer library version can add
-- codes without a migration. Listing is most recent first by id (insertion order).

CREATE TABLE dead_letters (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    reason      VARCHAR(32) NOT NULL,
    detail      TEXT NOT NULL,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
