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
  /** Write inside savepoints and bisect refused rows (after an optimistic attempt hit one). */
  readonly isolating: boolean;
  /** On the last attempt a taken `message_id` is a refusal, not a reason to retry. */
  readonly lastAttempt: boolean;
  readonly request: AppendRequest;
  readonly batch: LockedBatch;
  readonly writer: MessageWriter;
}

/**
 * Locks the open batch row (serialising appends to one batch) and finds which readings are
 * already stored, in one round trip.
 */
async function lockBatchAndFindStored(
  client: PgPoolClientLike,
  request: AppendRequest,
): Promise<{ batch: LockedBatch; stored: Set<string> }> {
  const { rows } = await client.query<{
    status: string | null;
    message_count: number | null;
    stored: string;
  }>(
    statement("lock_batch_find_stored", SQL.lockBatchAndFindStored, [
      request.batchId,
      request.readings.map((r) => r.messageHash),
    ]),
  );
  const row = rows[0]!;
  if (row.status !== null && row.status !== "pending") {
    throw new StoreError(`batch ${request.batchId} is ${row.status}, not pending`);
  }
  const batch =
    row.status === null
      ? { exists: false, messageCount: 0 }
      : { exists: true, messageCount: row.message_count ?? 0 };
  return { batch, stored: new Set(row.stored ? row.stored.split(",") : []) };
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

async function writeIsolating(ctx: AppendContext, fresh: readonly Reading[]) {
  let candidates = fresh;
  const refused: Rejection[] = [];
  while (candidates.length > 0) {
    const plan = checkedPlan(ctx, candidates);
    const error = await attempt(ctx, plan, true);
    if (error === undefined) return { plan, refused };
    const refusals = await isolate(ctx, candidates, error);
    refused.push(...refusals.map(refusalRecord));
    const bad = new Set(refusals.map((r) => r.reading));
    candidates = candidates.filter((r) => !bad.has(r));
  }
  return { plan: null, refused };
}

async function appendOnce(ctx: Omit<AppendContext, "batch">): Promise<AppendResult> {
  const { client, request } = ctx;
  const { batch, stored } = await lockBatchAndFindStored(client, request);
  const full: AppendContext = { ...ctx, batch };
  const duplicates = request.readings.filter((r) => stored.has(r.messageHash));
  const fresh = request.readings.filter((r) => !stored.has(r.messageHash));
  let written: { plan: BatchAppendPlan | null; refused: Rejection[] } = { plan: null, refused: [] };
  if (ctx.isolating) {
    written = await writeIsolating(full, fresh);
  } else if (fresh.length > 0) {
    const plan = checkedPlan(full, fresh);
    await writePlan(full, plan);
    written = { plan, refused: [] };
  }
  await insertDeadLetters(client, [...request.rejections, ...written.refused]);
  return { plan: written.plan, duplicates, refused: written.refused };
}

/**
 * {@link Store.append} for PostgreSQL, in one transaction: lock the open batch row and drop readings
 * whose `message_hash` is stored (one statement), plan the rest, upsert devices, create or advance
 * the batch, insert the messages once (with batch and leaf position), record rejections, COMMIT.
 * The first try writes without savepoints; if PostgreSQL refuses a row, the transaction is rolled
 * back and redone in savepoints, bisecting the refused rows out (dead-lettered as `store_refused`). When a
 * concurrent writer stores one of the readings first (unique violation) or a deadlock or
 * serialization failure occurs, the whole transaction is retried (3 attempts in all).
 */
export async function appendReadings(
  pool: PgPoolLike,
  request: AppendRequest,
  writer: MessageWriter,
): Promise<AppendResult> {
  let isolating = false;
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt >= MAX_ATTEMPTS;
    try {
      return await inTransaction(pool, (client) =>
        appendOnce({ client, request, writer, lastAttempt, isolating }),
      );
    } catch (error) {
      if (error instanceof RowRefused && !isolating) {
        isolating = true;
        attempt -= 1;
        continue;
      }
      if (!lastAttempt && isRetryable(error)) continue;
      throw toStoreError("append", error instanceof RowRefused ? error.cause : error);
    }
  }
}
