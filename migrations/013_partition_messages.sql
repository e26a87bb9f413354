-- 013_partition_messages.sql — messages (and signature_verifications) range-partitioned by time.
--
-- At 100 readings a second (8.64 million rows a day) one heap with a GIN index
-- grows without end and can only be pruned row by row. From here on:
--
--   messages                 PARTITION BY RANGE (received_at), one partition per day by default
--                            (veep_bridge_settings.partition_interval: 'hour', 'day', 'week' or
--                            'month'), named messages_p<YYYYMMDD> after its first day (UTC), or
--                            messages_p<YYYYMMDDHH> after its first hour;
--   signature_verifications  PARTITION BY RANGE (verified_at), the same bounds, named
--                            signature_verifications_p<YYYYMMDD>, so retention drops both.
--
-- Every column, default and CHECK stays as it was. The indexes keep their names on the parent
-- (idx_messages_batch_id, idx_messages_device_id, idx_messages_received_at, idx_messages_raw_data)
-- and, prefixed with the partition's name, on every partition (messages_p20261206_idx_messages_batch_id);
-- one is added for the per-device time-range queries (idx_messages_device_received). A partitioned table cannot hold a UNIQUE index without its
-- partition key, so the two uniqueness rules are per partition, created with each one by
-- veep_create_message_partitions():
--   <partition>_idx_messages_hash        UNIQUE (message_hash, device_id)  the de-duplication rule
--   <partition>_uq_messages_batch_leaf   UNIQUE (batch_id, leaf_index)     a leaf position once
-- and the store checks the partitions before the one a reading lands in (a redelivered copy
-- arrives later, so it can land in a later partition): see docs/schema.md, "Partitions".
-- The primary key becomes (message_id, received_at); message ids are random UUIDs.
-- signature_verifications keeps message_id without a foreign key (a partitioned table can only be
-- referenced by its whole key); its rows go with their partition.
--
-- Existing rows are copied into the new partitions in this transaction: on a large database run
-- it in a maintenance window (docs/schema.md, "Moving an existing database to partitions").

CREATE TABLE veep_bridge_settings (
    key   VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO veep_bridge_settings (key, value) VALUES ('partition_interval', 'day');

-- The partitions veep_create_message_partitions() made, with their bounds (for retention).
CREATE TABLE veep_message_partitions (
    name        VARCHAR(63) PRIMARY KEY,
    lower_bound TIMESTAMPTZ NOT NULL UNIQUE,
    upper_bound TIMESTAMPTZ NOT NULL,
    CONSTRAINT check_partition_bounds CHECK (upper_bound > lower_bound)
);

-- Creates table `part` like `parent`, with the parent's primary key and each of its indexes under
-- the name <part>_<parent index name> (so every partition carries the parent's index names), and
-- attaches it as the partition [lower, upper).
CREATE FUNCTION veep_attach_partition(parent TEXT, part TEXT, primary_key TEXT, lower TIMESTAMPTZ, upper TIMESTAMPTZ)
RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    idx RECORD;
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY %s', part, part || '_pkey', primary_key);
    FOR idx IN
        SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = parent::regclass AND NOT i.indisprimary
    LOOP
        EXECUTE regexp_replace(idx.def, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+',
            'CREATE \1INDEX ' || quote_ident(part || '_' || idx.name) || ' ON ' || quote_ident(part));
    END LOOP;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lower, upper);
END;
$$;

-- Creates the message and signature partitions covering [from_ts, to_ts) that do not exist yet,
-- aligned on the configured interval (UTC), each with its per-partition unique indexes. A range
-- an existing partition covers is skipped (so changing the interval takes effect after the last
-- partition made). Safe to call concurrently and repeatedly. Returns the partitions it created.
CREATE FUNCTION veep_create_message_partitions(from_ts TIMESTAMPTZ, to_ts TIMESTAMPTZ)
RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    unit       TEXT;
    lower      TIMESTAMPTZ;
    upper      TIMESTAMPTZ;
    covered    TIMESTAMPTZ;
    next_start TIMESTAMPTZ;
    suffix     TEXT;
BEGIN
    -- One creator at a time (ASCII "veepprtn").
    PERFORM pg_advisory_xact_lock(8387231542930657390);
    SELECT value INTO unit FROM veep_bridge_settings WHERE key = 'partition_interval';
    IF unit IS NULL OR unit NOT IN ('hour', 'day', 'week', 'month') THEN
        RAISE EXCEPTION 'veep_bridge_settings.partition_interval must be hour, day, week or month, not %', unit;
    END IF;
    lower := date_trunc(unit, from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE lower < to_ts LOOP
        SELECT p.upper_bound INTO covered FROM veep_message_partitions p
        WHERE p.lower_bound <= lower AND p.upper_bound > lower;
        IF FOUND THEN
            lower := covered;
            CONTINUE;
        END IF;
        upper := (date_trunc(unit, lower AT TIME ZONE 'UTC') + ('1 ' || unit)::INTERVAL) AT TIME ZONE 'UTC';
        SELECT min(p.lower_bound) INTO next_start FROM veep_message_partitions p
        WHERE p.lower_bound > lower AND p.lower_bound < upper;
        IF next_start IS NOT NULL THEN
            upper := next_start;
        END IF;
        suffix := 'p' || to_char(lower AT TIME ZONE 'UTC', CASE WHEN unit = 'hour' THEN 'YYYYMMDDHH24' ELSE 'YYYYMMDD' END);
        PERFORM veep_attach_partition('messages', 'messages_' || suffix, '(message_id, received_at)', lower, upper);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (message_hash, device_id)',
            'messages_' || suffix || '_idx_messages_hash', 'messages_' || suffix);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (batch_id, leaf_index)',
            'messages_' || suffix || '_uq_messages_batch_leaf', 'messages_' || suffix);
        PERFORM veep_attach_partition('signature_verifications', 'signature_verifications_' || suffix,
            '(verification_id, verified_at)', lower, upper);
        INSERT INTO veep_message_partitions (name, lower_bound, upper_bound)
        VALUES ('messages_' || suffix, lower, upper);
        RETURN NEXT 'messages_' || suffix;
        lower := upper;
    END LOOP;
END;
$$;

-- Sets the interval of the partitions made from now on, and drops the partitions not yet over that
-- are still empty (the current one and those made ahead under the old interval), so the new one
-- applies at once. Returns the partitions dropped.
CREATE FUNCTION veep_set_partition_interval(new_unit TEXT)
RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    p RECORD;
    has_rows BOOLEAN;
BEGIN
    IF new_unit NOT IN ('hour', 'day', 'week', 'month') THEN
        RAISE EXCEPTION 'the partition interval must be hour, day, week or month, not %', new_unit;
    END IF;
    PERFORM pg_advisory_xact_lock(8387231542930657390);
    UPDATE veep_bridge_settings SET value = new_unit WHERE key = 'partition_interval' AND value <> new_unit;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- No reading may arrive in a partition between its emptiness check and its drop.
    LOCK TABLE messages, signature_verifications IN ACCESS EXCLUSIVE MODE;
    FOR p IN SELECT name FROM veep_message_partitions WHERE upper_bound > NOW() ORDER BY lower_bound LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I) OR EXISTS (SELECT 1 FROM %I)',
            p.name, replace(p.name, 'messages_', 'signature_verifications_')) INTO has_rows;
        CONTINUE WHEN has_rows;
        EXECUTE format('DROP TABLE %I', p.name);
        EXECUTE format('DROP TABLE IF EXISTS %I', replace(p.name, 'messages_', 'signature_verifications_'));
        DELETE FROM veep_message_partitions WHERE name = p.name;
        RETURN NEXT p.name;
    END LOOP;
END;
$$;

-- The unpartitioned tables step aside, with their constraint and index names.
ALTER TABLE signature_verifications RENAME TO signature_verifications_unpartitioned;
ALTER TABLE signature_verifications_unpartitioned
    RENAME CONSTRAINT signature_verifications_pkey TO signature_verifications_unpartitioned_pkey;
ALTER INDEX idx_signature_verifications_message_id RENAME TO idx_signature_verifications_unpartitioned;
ALTER TABLE messages RENAME TO messages_unpartitioned;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT messages_pkey TO messages_unpartitioned_pkey;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT fk_batch TO fk_batch_unpartitioned;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT fk_device TO fk_device_unpartitioned;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT uq_messages_batch_leaf TO uq_messages_batch_leaf_unpartitioned;
ALTER TABLE messages_unpartitioned RENAME CONSTRAINT check_leaf_index TO check_leaf_index_unpartitioned;
ALTER INDEX idx_messages_batch_id RENAME TO idx_messages_batch_id_unpartitioned;
ALTER INDEX idx_messages_device_id RENAME TO idx_messages_device_id_unpartitioned;
ALTER INDEX idx_messages_received_at RENAME TO idx_messages_received_at_unpartitioned;
ALTER INDEX idx_messages_hash RENAME TO idx_messages_hash_unpartitioned;
ALTER INDEX idx_messages_raw_data RENAME TO idx_messages_raw_data_unpartitioned;

CREATE TABLE messages (
    message_id       UUID NOT NULL DEFAULT gen_random_uuid(),
    batch_id         UUID,
    device_id        VARCHAR(100) NOT NULL,
    topic            VARCHAR(255) NOT NULL,
    message_hash     VARCHAR(64) NOT NULL,
    raw_data         JSONB NOT NULL,
    received_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    processed_at     TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    leaf_index       INTEGER,
    device_signature VARCHAR(88),
    CONSTRAINT messages_pkey PRIMARY KEY (message_id, received_at),
    CONSTRAINT fk_batch FOREIGN KEY (batch_id) REFERENCES batches(batch_id) ON DELETE CASCADE,
    CONSTRAINT fk_device FOREIGN KEY (device_id) REFERENCES devices(device_id),
    CONSTRAINT check_leaf_index CHECK (leaf_index >= 0)
) PARTITION BY RANGE (received_at);

CREATE INDEX idx_messages_batch_id ON messages(batch_id);
CREATE INDEX idx_messages_device_id ON messages(device_id);
CREATE INDEX idx_messages_received_at ON messages(received_at DESC);
CREATE INDEX idx_messages_raw_data ON messages USING GIN (raw_data);
CREATE INDEX idx_messages_device_received ON messages(device_id, received_at DESC);

CREATE TABLE signature_verifications (
    verification_id UUID NOT NULL DEFAULT gen_random_uuid(),
    message_id      UUID,
    is_valid        BOOLEAN NOT NULL,
    verified_at     TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    public_key      VARCHAR(88),
    CONSTRAINT signature_verifications_pkey PRIMARY KEY (verification_id, verified_at)
) PARTITION BY RANGE (verified_at);

CREATE INDEX idx_signature_verifications_message_id ON signature_verifications(message_id);

-- Partitions for every existing row, and from yesterday to a week ahead.
SELECT count(*) FROM veep_create_message_partitions(
    LEAST(
        (SELECT min(received_at) FROM messages_unpartitioned),
        (SELECT min(verified_at) FROM signature_verifications_unpartitioned),
        NOW() - INTERVAL '1 day'),
    GREATEST(
        (SELECT max(received_at) FROM messages_unpartitioned),
        (SELECT max(verified_at) FROM signature_verifications_unpartitioned),
        NOW()) + INTERVAL '8 days');

INSERT INTO messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at,
                      processed_at, leaf_index, device_signature)
SELECT message_id, batch_id, device_id, topic, message_hash, raw_data, received_at,
       processed_at, leaf_index, device_signature
FROM messages_unpartitioned;

INSERT INTO signature_verifications (verification_id, message_id, is_valid, verified_at, public_key)
SELECT verification_id, message_id, is_valid, COALESCE(verified_at, NOW()), public_key
FROM signature_verifications_unpartitioned;

DROP TABLE signature_verifications_unpartitioned;
DROP TABLE messages_unpartitioned;
