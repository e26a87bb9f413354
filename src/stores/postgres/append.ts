import { BatchIntegrityError, StoreError } from "../../errors.js";
import type { Reading, Rejection } from "../../message/types.js";
import type { AppendRequest, AppendResult, BatchAppendPlan } from "../store.js";
import { insertDeadLetters } from "./dead-letters.js";
import { upsertDevicesStatement } from "./devices.js";
import { isConcurrentDuplicate, isRetryable, isRowRefusal, sqlState, toStoreError } from "./errors.js";
import type { MessageWriter } from "./message-writer.js";
import type { PgPoolClientLike, PgPoolLike } from "./pg-types.js";
import { SQL, statement } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** Transactions tried per append when a concurrent writer gets in the way. */
const MAX_ATTEMPTS = 3;

interface LockedBatch {
  readonly exists: boolean;
  readonly messageCount: number;
}

/** A statement of the row writes failed because PostgreSQL refused some row's content. */
class RowRefused extends Error {
  constructor(override readonly cause: unknown) {
    super("row refused");
  }
}

interface Refusal {
  readonly reading: Reading;
  readonly error: unknown;
}

interface AppendContext {
  readonly client: PgPoolClientLike;
  /** On the last attempt a taken `message_id` is a refusal, not a reason to retry. */
  readonly lastAttempt: boolean;
  readonly request: AppendRequest;
  readonly batch: LockedBatch;
  readonly writer: MessageWriter;
}

async function lockBatch(client: PgPoolClientLike, batchId: string): Promise<LockedBatch> {
  const { rows } = await client.query<{ status: string; message_count: number }>(
    statement("lock_batch", SQL.lockBatch, [batchId]),
  );
  const row = rows[0];
  if (!row) return { exists: false, messageCount: 0 };
  if (row.status !== "pending") throw new StoreError(`batch ${batchId} is ${row.status}, not pending`);
  return { exists: true, messageCount: row.message_count };
}

async function existingHashes(client: PgPoolClientLike, readings: readonly Reading[]): Promise<Set<string>> {
  if (readings.length === 0) return new Set();
  const { rows } = await client.query<{ message_hash: string }>(
    statement("existing_hashes", SQL.existingHashes, [readings.map((r) => r.messageHash)]),
  );
  return new Set(rows.map((row) => row.message_hash));
}

function checkedPlan(ctx: AppendContext, readings: readonly Reading[]): BatchAppendPlan {
  const plan = ctx.request.plan(readings);
  const { batch } = ctx;
  const first = plan.leaves[0]?.leafIndex;
  const consistent =
    plan.batchId === ctx.request.batchId &&
    plan.createsBatch === !batch.exists &&
    plan.leaves.length === readings.length &&
    first === batch.messageCount &&
    plan.messageCount === batch.messageCount + readings.length &&
    plan.leaves.every((leaf, i) => leaf.leafIndex === batch.messageCount + i);
  if (!consistent) {
    throw new BatchIntegrityError(
      ctx.request.batchId,
      `plan does not continue batch ${ctx.request.batchId}: it has ${batch.messageCount} stored leaves${
        batch.exists ? "" : " and no row"
      }, the plan starts at leaf ${String(first)} (createsBatch ${plan.createsBatch})`,
    );
  }
  return plan;
}

async function rowStage(ctx: AppendContext, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isConcurrentDuplicate(error) && !ctx.lastAttempt) throw error;
    throw isRowRefusal(error) ? new RowRefused(error) : error;
  }
}

async function writePlan(ctx: AppendContext, plan: BatchAppendPlan): Promise<void> {
  const { client } = ctx;
  await rowStage(ctx, () => client.query(upsertDevicesStatement(plan.leaves.map((leaf) => leaf.reading))));
  const batchValues = [
    plan.batchId,
    plan.batchHash,
    plan.messageCount,
    plan.startTimestamp,
    plan.endTimestamp,
  ];
  if (plan.createsBatch) {
    await client.query(statement("insert_batch", SQL.insertBatch, batchValues));
  } else {
    const { rowCount } = await client.query(
      statement("advance_batch", SQL.advanceBatch, [...batchValues, ctx.batch.messageCount]),
    );
    if (rowCount !== 1)
      throw new BatchIntegrityError(plan.batchId, `batch ${plan.batchId} changed under the append`);
  }
  await rowStage(ctx, () => ctx.writer(client, plan));
}

/** Writes `plan` inside a savepoint; returns the refusal error (rolled back) or `undefined` (written). */
async function attempt(ctx: AppendContext, plan: BatchAppendPlan, keep: boolean): Promise<unknown> {
  const { client } = ctx;
  await client.query({ text: "SAVEPOINT veep_append" });
  try {
    await writePlan(ctx, plan);
  } catch (error) {
    if (!(error instanceof RowRefused)) throw error;
    await client.query({ text: "ROLLBACK TO SAVEPOINT veep_append" });
    return error.cause;
  }
  await client.query({ text: keep ? "RELEASE SAVEPOINT veep_append" : "ROLLBACK TO SAVEPOINT veep_append" });
  return undefined;
}

/** Bisects `group` (whose write failed with `error`) down to the readings PostgreSQL refuses. */
async function isolate(ctx: AppendContext, group: readonly Reading[], error: unknown): Promise<Refusal[]> {
  if (group.length === 1) return [{ reading: group[0]!, error }];
  const middle = Math.ceil(group.length / 2);
  const refusals: Refusal[] = [];
  for (const half of [group.slice(0, middle), group.slice(middle)]) {
    const halfError = await attempt(ctx, checkedPlan(ctx, half), false);
    if (halfError !== undefined) refusals.push(...(await isolate(ctx, half, halfError)));
  }
  // Each half is accepted alone but not together: refuse the last reading so the loop progresses.
  if (refusals.length === 0) refusals.push({ reading: group[group.length - 1]!, error });
  return refusals;
}

function refusalRecord({ reading, error }: Refusal): Rejection {
  const message = error instanceof Error ? error.message : String(error);
  return {
    topic: reading.topic,
    payload: new TextEncoder().encode(reading.canonicalJson),
    reason: "store_refused",
    detail: `SQLSTATE ${sqlState(error) ?? "unknown"}: ${message}`,
    receivedAt: reading.receivedAt,
  };
}

async function appendOnce(ctx: Omit<AppendContext, "batch">): Promise<AppendResult> {
  const { client, request } = ctx;
  const batch = await lockBatch(client, request.batchId);
  const full: AppendContext = { ...ctx, batch };
  const stored = await existingHashes(client, request.readings);
  const duplicates = request.readings.filter((r) => stored.has(r.messageHash));
  let candidates = request.readings.filter((r) => !stored.has(r.messageHash));
  const refused: Rejection[] = [];
  let plan: BatchAppendPlan | null = null;
  while (candidates.length > 0) {
    const next = checkedPlan(full, candidates);
    const error = await attempt(full, next, true);
    if (error === undefined) {
      plan = next;
      break;
    }
    const refusals = await isolate(full, candidates, error);
    refused.push(...refusals.map(refusalRecord));
    const bad = new Set(refusals.map((r) => r.reading));
    candidates = candidates.filter((r) => !bad.has(r));
  }
  await insertDeadLetters(client, [...request.rejections, ...refused]);
  return { plan, duplicates, refused };
}

/**
 * {@link Store.append} for PostgreSQL, in one transaction: lock the open batch row, drop readings
 * whose `message_hash` is stored, plan the rest, upsert devices, create or advance the batch,
 * insert the messages once (with batch and leaf position), record rejections, COMMIT. Rows
 * PostgreSQL refuses are bisected out in savepoints and dead-lettered as `store_refused`. When a
 * concurrent writer stores one of the readings first (unique violation) or a deadlock or
 * serialization failure occurs, the whole transaction is retried (3 attempts in all).
 */
export async function appendReadings(
  pool: PgPoolLike,
  request: AppendRequest,
  writer: MessageWriter,
): Promise<AppendResult> {
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt === MAX_ATTEMPTS;
    try {
      return await inTransaction(pool, (client) => appendOnce({ client, request, writer, lastAttempt }));
    } catch (error) {
      if (!lastAttempt && isRetryable(error)) continue;
      throw toStoreError("append", error);
    }
  }
}
