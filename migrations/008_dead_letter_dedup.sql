-- 008_dead_letter_dedup.sql — veep-bridge addition: one dead letter per device and payload.
--
-- A refused payload is acknowledged like any other message, but a broker may deliver it again (a
-- redelivery after a reconnect or a crash). Dead letters follow the same de-duplication rule as
-- readings: a refused payload whose raw bytes are already recorded for the same device is not
-- recorded again. The device is the topic's device when the topic matched the pattern; without one
-- (the topic did not match), the topic itself takes its place.
--
-- payload_hash is the lowercase hex SHA-256 of the raw bytes, computed by PostgreSQL on insert, so
-- anyone can check it with encode(sha256(payload), 'hex'). Rows recorded before this migration keep
-- payload_hash NULL and are left out of the rule (the index is partial).

-- device_id is TEXT, not the VARCHAR(100) of devices: a dead letter must be recordable whatever the
-- input. The index keys the device (or the topic) by its md5, so an oversized one cannot fail it.

ALTER TABLE dead_letters
    ADD COLUMN device_id    TEXT,
    ADD COLUMN payload_hash CHAR(64);

CREATE UNIQUE INDEX uq_dead_letters_payload
    ON dead_letters (payload_hash, (md5(COALESCE('device:' || device_id, 'topic:' || topic))))
    WHERE payload_hash IS NOT NULL;
