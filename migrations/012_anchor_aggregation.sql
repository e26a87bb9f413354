-- 012_anchor_aggregation.sql — one anchoring transaction for several batches.
--
-- An aggregate anchor writes one memo, veep-bridge:v2:<batchCount>:<rootHex>, whose root is the
-- RFC 9162 Merkle root over the batches it anchors (each leaf: SHA-256 of the batch's own
-- veep-bridge:v1 memo text). Its attempt is recorded once per batch, under the same signature, with
-- the batch's place in that tree, so a proof of a reading can go on from the batch root to the
-- anchored root:
--   blockchain_transactions.aggregate_index  the batch's leaf position (0-based)
--   blockchain_transactions.aggregate_size   the number of batches the transaction anchors
--   blockchain_transactions.aggregate_path   the audit path from that leaf to the memo's root (hex)
-- All three are NULL for a transaction that anchors one batch (a veep-bridge:v1 memo).
-- A signature is now unique per batch rather than alone; every row of one signature shares its
-- memo, status, slot and fee (gas_fee is the whole transaction's fee on each of them).

ALTER TABLE blockchain_transactions DROP CONSTRAINT IF EXISTS blockchain_transactions_tx_signature_key;

ALTER TABLE blockchain_transactions
    ADD CONSTRAINT uq_blockchain_transactions_signature_batch UNIQUE (tx_signature, batch_id),
    ADD COLUMN aggregate_index INTEGER,
    ADD COLUMN aggregate_size  INTEGER,
    ADD COLUMN aggregate_path  TEXT[],
    ADD CONSTRAINT check_aggregate CHECK (
        (aggregate_index IS NULL AND aggregate_size IS NULL AND aggregate_path IS NULL)
        OR (aggregate_size >= 1 AND aggregate_index >= 0 AND aggregate_index < aggregate_size
            AND aggregate_path IS NOT NULL)
    );
