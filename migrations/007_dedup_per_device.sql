-- 007_dedup_per_device.sql — veep-bridge addition: de-duplication per device.
--
-- 004 made message_hash alone unique, so two devices publishing byte-identical payloads (e.g. ones
-- that carry no deviceId) became one message and the second reading was lost. A duplicate is now a
-- message of the SAME device (device_id, from the topic) whose message_hash equals one already
-- stored, in any batch: exactly what an MQTT QoS 1 redelivery produces. The index keeps its
-- name and still serves look-ups by message_hash (its leading column).

DROP INDEX idx_messages_hash;
CREATE UNIQUE INDEX idx_messages_hash ON messages(message_hash, device_id);
