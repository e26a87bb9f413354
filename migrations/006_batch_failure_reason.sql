-- 006_batch_failure_reason.sql — veep-bridge addition: why a batch is 'failed'.
--
-- 001 has the 'failed' status but nowhere to say why. failBatch(batchId, reason) sets
-- status = 'failed' and keeps the reason here (e.g. "stored root does not match its leaves").

ALTER TABLE batches
    ADD COLUMN failure_reason TEXT;
