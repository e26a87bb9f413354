import type { AnchorAggregation } from "../../anchoring/memo.js";
import type {
  AnchorAttempt,
  AnchorAttemptStatus,
  AnchoredBatch,
  AnchorWork,
  BatchAnchor,
} from "../../anchoring/types.js";
import { StoreError } from "../../errors.js";
import { type BatchRow, batchRecord } from "./batches.js";
import type { PgPoolLike, PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";
import { isUuid } from "./uuid.js";

const BATCH_COLUMNS =
  "b.batch_id, b.batch_hash, b.message_count, b.start_timestamp, b.end_timestamp, b.status";

/** Statement texts of the anchoring lifecycle (migration 010). */
const ANCHOR_SQL = {
  /** Leases up to $2 due batches to $1 for $3 ms; a row another worker is claiming is skipped. */
  claim: `WITH due AS (
  SELECT batch_id FROM batches
  WHERE (status IN ('complete', 'blockchain_pending')
         OR (status = 'failed' AND anchor_retry_at IS NOT NULL AND anchor_retry_at <= NOW()))
    AND (anchor_lease_until IS NULL OR anchor_lease_until < NOW() OR anchor_lease_owner = $1)
  ORDER BY created_at ASC, batch_id ASC
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE batches b SET anchor_lease_owner = $1, anchor_lease_until = NOW() + $3 * interval '1 millisecond'
FROM due WHERE b.batch_id = due.batch_id
RETURNING ${BATCH_COLUMNS}, b.anchor_failures, b.created_at`,
  release: `UPDATE batches SET anchor_lease_owner = NULL, anchor_lease_until = NULL
WHERE batch_id = $1 AND anchor_lease_owner = $2`,
  attempts: `SELECT batch_id, tx_signature, memo, status, valid_until, block_number,
  (gas_fee * 1000000000)::bigint AS fee_lamports, error, created_at, confirmed_at,
  aggregate_index, aggregate_size, array_to_string(aggregate_path, ',') AS aggregate_path
FROM blockchain_transactions WHERE batch_id = ANY($1::uuid[]) ORDER BY created_at ASC, tx_id ASC`,
  /**
   * Records attempt $2 of batch $1 (memo $3, valid until $4; its place in an aggregate: index $5 of
   * $6 with path $7) and moves the batch to blockchain_pending.
   */
  record: `WITH b AS (
  UPDATE batches SET status = 'blockchain_pending', solana_tx_signature = $2
  WHERE batch_id = $1
    AND (status IN ('complete', 'blockchain_pending') OR (status = 'failed' AND anchor_retry_at IS NOT NULL))
  RETURNING batch_id
)
INSERT INTO blockchain_transactions (batch_id, tx_signature, memo, valid_until, status, created_at,
  aggregate_index, aggregate_size, aggregate_path)
SELECT batch_id, $2, $3, $4, 'pending', clock_timestamp(), $5, $6, $7 FROM b
RETURNING tx_id`,
  resolve: `UPDATE blockchain_transactions SET status = $2, error = $3 WHERE tx_signature = $1`,
  /** Attempt $2 of batch $1 confirmed at slot $3 with fee $4 lamports; the batch, unless already confirmed. */
  confirm: `WITH t AS (
  UPDATE blockchain_transactions
  SET status = 'confirmed', block_number = $3, gas_fee = $4::numeric / 1000000000, confirmed_at = NOW(), error = NULL
  WHERE tx_signature = $2 AND batch_id = $1
  RETURNING confirmed_at
), b AS (
  UPDATE batches SET status = 'blockchain_confirmed', solana_tx_signature = $2, solana_block_number = $3,
    confirmed_at = NOW(), solana_confirmed = TRUE, solana_confirmation_time = NOW(),
    failure_reason = NULL, anchor_retry_at = NULL
  WHERE batch_id = $1 AND status <> 'blockchain_confirmed' AND EXISTS (SELECT 1 FROM t)
  RETURNING 1
)
SELECT (SELECT count(*) FROM t) AS attempts, (SELECT count(*) FROM b) AS batches`,
  fail: `UPDATE batches SET status = 'failed', failure_reason = $2, anchor_failures = anchor_failures + 1,
  anchor_retry_at = $3
WHERE batch_id = $1 AND status <> 'blockchain_confirmed'`,
  exists: `SELECT 1 FROM batches WHERE batch_id = $1`,
  anchor: `SELECT b.batch_id, b.status, b.solana_tx_signature, b.solana_block_number, b.confirmed_at, t.memo,
  t.aggregate_index, t.aggregate_size, array_to_string(t.aggregate_path, ',') AS aggregate_path
FROM batches b
LEFT JOIN blockchain_transactions t ON t.tx_signature = b.solana_tx_signature AND t.batch_id = b.batch_id
WHERE b.batch_id = $1 AND b.status IN ('blockchain_pending', 'blockchain_confirmed')
  AND b.solana_tx_signature IS NOT NULL`,
  /** A page of confirmed anchors after batch $1, in batch id order. */
  anchors: `SELECT ${BATCH_COLUMNS}, b.solana_tx_signature, b.solana_block_number, b.confirmed_at, t.memo,
  t.aggregate_index, t.aggregate_size, array_to_string(t.aggregate_path, ',') AS aggregate_path
FROM batches b
LEFT JOIN blockchain_transactions t ON t.tx_signature = b.solana_tx_signature AND t.batch_id = b.batch_id
WHERE b.status = 'blockchain_confirmed' AND b.batch_id > $1::uuid
ORDER BY b.batch_id ASC LIMIT $2`,
} as const;

/** The aggregate columns of a `blockchain_transactions` row (the path joined with commas). */
interface AggregateColumns {
  aggregate_index: number | null;
  aggregate_size: number | null;
  aggregate_path: string | null;
}

function aggregationOf(row: AggregateColumns): AnchorAggregation | null {
  if (row.aggregate_index === null || row.aggregate_size === null || row.aggregate_path === null) return null;
  const auditPath = row.aggregate_path === "" ? [] : row.aggregate_path.split(",");
  return { leafIndex: row.aggregate_index, treeSize: row.aggregate_size, auditPath };
}

interface AttemptRow extends AggregateColumns {
  batch_id: string;
  tx_signature: string;
  memo: string;
  status: string;
  valid_until: number | null;
  block_number: number | null;
  fee_lamports: number | null;
  error: string | null;
  created_at: Date;
  confirmed_at: Date | null;
}

function attempt(row: AttemptRow): AnchorAttempt {
  return {
    batchId: row.batch_id,
    signature: row.tx_signature,
    memo: row.memo,
    status: row.status as AnchorAttemptStatus,
    validUntil: row.valid_until,
    slot: row.block_number,
    feeLamports: row.fee_lamports,
    error: row.error,
    createdAt: row.created_at,
    confirmedAt: row.confirmed_at,
    aggregation: aggregationOf(row),
  };
}

interface AnchorRow extends AggregateColumns {
  batch_id: string;
  status: string;
  solana_tx_signature: string;
  solana_block_number: number | null;
  confirmed_at: Date | null;
  memo: string | null;
}

function anchorOf(row: AnchorRow): BatchAnchor {
  return {
    batchId: row.batch_id,
    status: row.status as BatchAnchor["status"],
    signature: row.solana_tx_signature,
    slot: row.solana_block_number,
    memo: row.memo ?? "",
    confirmedAt: row.confirmed_at,
    aggregation: aggregationOf(row),
  };
}

async function attemptsOf(db: PgQueryable, batchIds: readonly string[]): Promise<AnchorAttempt[]> {
  if (batchIds.length === 0) return [];
  const { rows } = await db.query<AttemptRow>(statement("anchor_attempts", ANCHOR_SQL.attempts, [batchIds]));
  return rows.map(attempt);
}

/** Leases due batches (see `AnchorLedger.claimAnchorWork`), oldest first, with their attempts. */
export async function claimAnchorWork(
  db: PgQueryable,
  options: { readonly owner: string; readonly limit: number; readonly leaseMs: number },
): Promise<AnchorWork[]> {
  const { rows } = await db.query<BatchRow & { anchor_failures: number; created_at: Date }>(
    statement("anchor_claim", ANCHOR_SQL.claim, [options.owner, options.limit, options.leaseMs]),
  );
  rows.sort(
    (a, b) => a.created_at.getTime() - b.created_at.getTime() || a.batch_id.localeCompare(b.batch_id),
  );
  const attempts = await attemptsOf(
    db,
    rows.map((row) => row.batch_id),
  );
  return rows.map((row) => ({
    batch: batchRecord(row),
    attempts: attempts.filter((a) => a.batchId === row.batch_id),
    failures: row.anchor_failures,
  }));
}

/** Ends `owner`'s lease. */
export async function releaseAnchorWork(db: PgQueryable, batchId: string, owner: string): Promise<void> {
  if (!isUuid(batchId)) return;
  await db.query(statement("anchor_release", ANCHOR_SQL.release, [batchId, owner]));
}

/** Records an attempt and moves the batch to `blockchain_pending`, in one statement. */
export async function recordAnchorAttempt(
  db: PgQueryable,
  request: {
    readonly batchId: string;
    readonly signature: string;
    readonly memo: string;
    readonly validUntil: number | null;
    readonly aggregation?: AnchorAggregation | undefined;
  },
): Promise<void> {
  if (!isUuid(request.batchId)) throw new StoreError(`cannot anchor unknown batch ${request.batchId}`);
  const aggregation = request.aggregation;
  const { rowCount } = await db.query(
    statement("anchor_record", ANCHOR_SQL.record, [
      request.batchId,
      request.signature,
      request.memo,
      request.validUntil,
      aggregation?.leafIndex ?? null,
      aggregation?.treeSize ?? null,
      aggregation ? [...aggregation.auditPath] : null,
    ]),
  );
  if (rowCount !== 1)
    throw new StoreError(
      `cannot anchor batch ${request.batchId}: it is unknown, not sealed, or failed for another reason than anchoring`,
    );
}

/** Marks an attempt `expired` or `failed`. */
export async function resolveAnchorAttempt(
  db: PgQueryable,
  signature: string,
  status: "expired" | "failed",
  error: string,
): Promise<void> {
  const { rowCount } = await db.query(
    statement("anchor_resolve", ANCHOR_SQL.resolve, [signature, status, error.replaceAll("\u0000", "")]),
  );
  if (!rowCount) throw new StoreError(`unknown transaction ${signature}`);
}

/** Records the confirmation of an attempt (and of its batch unless it is confirmed already). */
export async function confirmAnchor(
  db: PgQueryable,
  batchId: string,
  signature: string,
  confirmation: { readonly slot: number; readonly feeLamports: number },
): Promise<void> {
  if (!isUuid(batchId)) throw new StoreError(`unknown batch ${batchId}`);
  const { rows } = await db.query<{ attempts: number }>(
    statement("anchor_confirm", ANCHOR_SQL.confirm, [
      batchId,
      signature,
      confirmation.slot,
      confirmation.feeLamports,
    ]),
  );
  if (rows[0]?.attempts !== 1) throw new StoreError(`unknown transaction ${signature} of batch ${batchId}`);
}

/** Moves a batch to `failed` by anchoring, with the reason and its next attempt time. */
export async function failAnchor(
  db: PgQueryable,
  batchId: string,
  reason: string,
  retryAt: Date,
): Promise<void> {
  if (!isUuid(batchId)) throw new StoreError(`cannot fail unknown batch ${batchId}`);
  const { rowCount } = await db.query(
    statement("anchor_fail", ANCHOR_SQL.fail, [batchId, reason.replaceAll("\u0000", ""), retryAt]),
  );
  if (rowCount === 1) return;
  const { rows } = await db.query(statement("anchor_exists", ANCHOR_SQL.exists, [batchId]));
  if (rows.length === 0) throw new StoreError(`cannot fail unknown batch ${batchId}`);
}

/** Every attempt of a batch, oldest first. */
export async function listAnchorAttempts(db: PgQueryable, batchId: string): Promise<AnchorAttempt[]> {
  return isUuid(batchId) ? attemptsOf(db, [batchId]) : [];
}

/** The batch's anchor, or `null`. */
export async function getAnchor(db: PgQueryable, batchId: string): Promise<BatchAnchor | null> {
  if (!isUuid(batchId)) return null;
  const { rows } = await db.query<AnchorRow>(statement("anchor_get", ANCHOR_SQL.anchor, [batchId]));
  return rows[0] ? anchorOf(rows[0]) : null;
}

/** Every confirmed anchor with its batch, in pages of `pageSize`, in batch id order. */
export async function* listAnchors(db: PgPoolLike, pageSize = 500): AsyncGenerator<AnchoredBatch> {
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const { rows } = await db.query<BatchRow & AnchorRow>(
      statement("anchor_list", ANCHOR_SQL.anchors, [after, pageSize]),
    );
    for (const row of rows) yield { ...anchorOf(row), batch: batchRecord(row) };
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.batch_id;
  }
}
