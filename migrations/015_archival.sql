-- 015_archival.sql — retention: sealed batches archived to files, then their partitions dropped.
--
--   batches.archived_at   when `veep-bridge archive` wrote the batch's file (every message with its
--                         leaf index, hash and raw_data, and a manifest with the root, count and anchor)
--   batches.archive_file  that file's name (<batch_id>.json in the archive folder)
--   batches.pruned_at     when `veep-bridge prune` dropped a partition holding messages of the batch
--
-- A pruned batch keeps its row (id, root, count, timestamps, status, anchor), so proofs issued
-- before and anchors on chain still verify; `veep-bridge verify` reports it as pruned, and
-- `veep-bridge verify --archive DIR` checks its file alone.

ALTER TABLE batches
    ADD COLUMN archived_at  TIMESTAMP WITH TIME ZONE,
    ADD COLUMN archive_file TEXT,
    ADD COLUMN pruned_at    TIMESTAMP WITH TIME ZONE;

-- The batches archiving is due for (a sealed batch whose last reading is older than archive_after),
-- and the partitions pruning may drop (older than delete_after, every batch in them archived): what
-- `veep-bridge retention` does, with defaults of 90 days and 1 year. It changes
-- nothing; the command writes the files and drops the partitions.
CREATE FUNCTION archive_old_batches(
    archive_after INTERVAL DEFAULT INTERVAL '90 days',
    delete_after  INTERVAL DEFAULT INTERVAL '1 year'
) RETURNS TABLE (action TEXT, target TEXT, detail TEXT)
LANGUAGE sql STABLE AS $$
    SELECT 'archive', b.batch_id::text, b.message_count || ' messages, last received ' || b.end_timestamp
    FROM batches b
    WHERE b.status IN ('complete', 'blockchain_pending', 'blockchain_confirmed')
      AND b.archived_at IS NULL AND b.end_timestamp < NOW() - archive_after
    UNION ALL
    SELECT 'prune', p.name, 'received before ' || p.upper_bound
    FROM veep_message_partitions p
    WHERE p.upper_bound <= NOW() - delete_after
    ORDER BY 1, 2
$$;
