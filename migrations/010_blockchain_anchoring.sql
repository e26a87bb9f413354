-- 010_blockchain_anchoring.sql — the reference schema's blockchain anchoring columns and table, with what the
-- anchoring worker needs to be idempotent.
--
-- As the reference schema gives them:
--   batches.solana_confirmed, batches.solana_confirmation_time, and the table
--   blockchain_transactions (gas_fee = the fee in SOL, NUMERIC(20,9): 5000 lamports = 0.000005).
-- veep-bridge additions, each for the lifecycle complete → blockchain_pending → blockchain_confirmed:
--   blockchain_transactions.memo         the memo text the transaction carries (veep-bridge:v1:…)
--   blockchain_transactions.valid_until  the blockhash's last valid block height: after it, a
--                                        transaction not found can never land, so another is sent
--   blockchain_transactions.error        why an attempt failed or expired
--   CHECK on blockchain_transactions.status: pending, confirmed, expired, failed
--   batches.anchor_failures, anchor_retry_at   backoff of a batch that failed by anchoring (a batch
--                                        failed otherwise has no anchor_retry_at and is never anchored)
--   batches.anchor_lease_owner, anchor_lease_until   the worker working on a batch, so a bridge and
--                                        `veep-bridge anchor` can run at once
-- Every attempt is a row, recorded before its transaction is sent (the signature is known once
-- signed); none is ever deleted. batches.solana_tx_signature names the latest attempt.

ALTER TABLE batches
    ADD COLUMN solana_confirmed BOOLEAN DEFAULT FALSE,
    ADD COLUMN solana_confirmation_time TIMESTAMP WITH TIME ZONE,
    ADD COLUMN anchor_failures INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN anchor_retry_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN anchor_lease_owner VARCHAR(255),
    ADD COLUMN anchor_lease_until TIMESTAMP WITH TIME ZONE;

CREATE TABLE blockchain_transactions (
    tx_id        UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id     UUID REFERENCES batches(batch_id),
    tx_signature VARCHAR(88) NOT NULL UNIQUE,
    block_number BIGINT,
    gas_fee      NUMERIC(20,9),
    status       VARCHAR(20) NOT NULL,
    created_at   TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    confirmed_at TIMESTAMP WITH TIME ZONE,
    memo         TEXT NOT NULL,
    valid_until  BIGINT,
    error        TEXT,

    CONSTRAINT check_tx_status CHECK (status IN ('pending', 'confirmed', 'expired', 'failed'))
);

CREATE INDEX idx_blockchain_transactions_batch_id ON blockchain_transactions(batch_id);
