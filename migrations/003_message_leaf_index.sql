-- 003_message_leaf_index.sql — veep-bridge addition: each message's position in its batch's Merkle tree.
--
-- A batch's batch_hash is the RFC 9162 Merkle root of its messages' hashes in leaf order, so the order
-- must be stored, not inferred from received_at (ties, clock skew). leaf_index is written with the
-- message and never changed. Invariant at every commit: a batch's messages have leaf_index
-- 0..message_count-1 without gaps. The unique constraint forbids two messages at one position (its
-- index also serves ordered reads of a batch's leaves). The column is nullable only because the schema
-- allows messages without a batch (batch_id NULL); veep-bridge always writes both.

ALTER TABLE messages
    ADD COLUMN leaf_index INTEGER,
    ADD CONSTRAINT check_leaf_index CHECK (leaf_index >= 0),
    ADD CONSTRAINT uq_messages_batch_leaf UNIQUE (batch_id, leaf_index);
