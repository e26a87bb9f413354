import { BatchIntegrityError, StoreError } from "../../errors.js";
import type { BatchLeaf, BatchRecord, BatchStatus, OpenBatchSnapshot, SealRequest } from "../store.js";
import type { PgQueryable } from "./pg-types.js";
import { SQL, statement } from "./sql.js";
import { isUuid } from "./uuid.js";

/** A `batches` row as selected by the store. */
export interface BatchRow {
  batch_id: string;
  batch_hash: string;
  message_count: number;
  start_timestamp: Date;
  end_timestamp: Date;
  status: string;
  failure_reason?: string | null;
}

/** Maps a row to a {@link BatchRecord}. */
export function batchRecord(row: BatchRow): BatchRecord {
  return {
    batchId: row.batch_id,
    batchHash: row.batch_hash,
    messageCount: row.message_count,
    startTimestamp: row.start_timestamp,
    endTimestamp: row.end_timestamp,
    status: row.status as BatchStatus,
  };
}

/** One batch with its failure reason, or `null`. */
export async function getBatchRow(db: PgQueryable, batchId: string): Promise<BatchRow | null> {
  if (!isUuid(batchId)) return null;
  const { rows } = await db.query<BatchRow>(statement("get_batch", SQL.getBatch, [batchId]));
  return rows[0] ?? null;
}

/** A batch's leaves in leaf order. */
export async function getBatchLeaves(db: PgQueryable, batchId: string): Promise<BatchLeaf[]> {
  if (!isUuid(batchId)) return [];
  const { rows } = await db.query<{ message_id: string; leaf_index: number; message_hash: string }>(
    statement("batch_leaves", SQL.batchLeaves, [batchId]),
  );
  return rows.map((row) => ({
    messageId: row.message_id,
    leafIndex: row.leaf_index,
    messageHash: row.message_hash,
  }));
}

/**
 * The open batch: the `pending` batch with the earliest `start_timestamp` (then `created_at`),
 * with its message hashes in leaf order. Should several be pending (two bridges on one
 * database, or an older version), the oldest is returned; sealing or failing it makes the next one
 * the open batch on the following call, so they are drained oldest first.
 */
export async function loadOpenBatch(db: PgQueryable, owner?: string): Promise<OpenBatchSnapshot | null> {
  const { rows } = await db.query<BatchRow>(statement("open_batch", SQL.openBatches, [owner ?? null]));
  const row = rows[0];
  if (!row) return null;
  const leaves = await getBatchLeaves(db, row.batch_id);
  return { ...batchRecord(row), leaves: leaves.map((leaf) => leaf.messageHash) };
}

/**
 * Seals in one statement: `complete` only if still `pending` with the given root and count.
 * @throws {@link BatchIntegrityError} when root or count differ; {@link StoreError} when the batch
 * is unknown or not pending.
 */
export async function sealBatch(db: PgQueryable, request: SealRequest): Promise<BatchRecord> {
  if (!isUuid(request.batchId)) throw new StoreError(`cannot seal unknown batch ${request.batchId}`);
  const { rows } = await db.query<BatchRow>(
    statement("seal_batch", SQL.sealBatch, [request.batchId, request.batchHash, request.messageCount]),
  );
  const sealed = rows[0];
  if (sealed) return batchRecord(sealed);
  const current = await getBatchRow(db, request.batchId);
  if (!current) throw new StoreError(`cannot seal unknown batch ${request.batchId}`);
  if (current.status !== "pending") {
    throw new StoreError(`cannot seal batch ${request.batchId}: it is ${current.status}`);
  }
  throw new BatchIntegrityError(
    request.batchId,
    `seal of batch ${request.batchId} does not match its stored root/count (${current.message_count} leaves, root ${current.batch_hash})`,
  );
}

/** Sets `failed` and keeps the reason in `failure_reason`. @throws {@link StoreError} for an unknown batch. */
export async function failBatch(db: PgQueryable, batchId: string, reason: string): Promise<void> {
  if (!isUuid(batchId)) throw new StoreError(`cannot fail unknown batch ${batchId}`);
  const { rowCount } = await db.query(
    statement("fail_batch", SQL.failBatch, [batchId, reason.replaceAll("\u0000", "")]),
  );
  if (rowCount !== 1) throw new StoreError(`cannot fail unknown batch ${batchId}`);
}
