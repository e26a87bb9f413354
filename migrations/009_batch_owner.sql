-- 009_batch_owner.sql — veep-bridge addition: each bridge continues its own open batch.
--
-- Several bridges may write to one database (a shared MQTT subscription spreading the load), each
-- with a pending batch of its own. On restart a bridge must continue its own pending batch, never
-- another's: owner names the bridge that writes a batch (by default its MQTT client id). A bridge
-- resumes the pending batch with its owner; failing that, it claims an unowned pending batch (one
-- written before this migration) in a single UPDATE, so two bridges never claim the same one.

ALTER TABLE batches ADD COLUMN owner VARCHAR(255);

CREATE INDEX idx_batches_pending_owner ON batches (owner) WHERE status = 'pending';
