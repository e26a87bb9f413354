-- 004_unique_message_hash.sql — veep-bridge addition: the de-duplication rule.
--
-- A duplicate is a message whose message_hash (SHA-256 of the RFC 8785 canonical JSON of its payload)
-- equals one already stored, in any batch. MQTT QoS 1 redelivers after a crash; the redelivered copy
-- hashes the same and must be neither stored nor counted. 001's non-unique idx_messages_hash is
-- replaced by a UNIQUE index of the same name, so the rule holds even between concurrent writers.
-- Consequence: two byte-identical readings (same device, same timestamp, same values) are one message.

DROP INDEX idx_messages_hash;
CREATE UNIQUE INDEX idx_messages_hash ON messages(message_hash);
