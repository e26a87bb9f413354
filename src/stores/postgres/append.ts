import { BatchIntegrityError, StoreError } from "../../errors.js";
import type { Reading, Rejection } from "../../message/types.js";
import { duplicateKey } from "../duplicate-key.js";
import type { AppendRequest, AppendResult, BatchAppendPlan } from "../store.js";
import { insertDeadLetters } from "./dead-letters.js";
import { upsertDevicesStatement } from "./devices.js";
import { isConcurrentDuplicate, isRetryable, isRowRefusal, sqlState, toStoreError } from "./errors.js";
import type { MessageWriter } from "./message-writer.js";
import type { PgPoolClientLike, PgPoolLike } from "./pg-types.js";
import { SQL, statement } from "./sql.js";
import { inTransaction } from "./transaction.js";

/**
 * Transactions tried per append: the first assumes no reading is stored yet; a unique violation
 * (a redelivery, or a concurrent writer) sends it to a second one that looks duplicates up; a
 * third covers a writer that got in between again.
 */
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
  /**
   * Look the readings' hashes up before planning. The first attempt does not: the unique index on
   * `message_hash` refuses a duplicate anyway (23505), and the retry then looks them up.
   */
  readonly findStored: boolean;
  /** On the last attempt a taken `message_id` is a refusal, not a reason to retry. */
  readonly lastAttempt: boolean;
  readonly request: AppendRequest;
  readonly batch: LockedBatch;
  readonly writer: MessageWriter;
}

/**
 * Locks the open batch row (serialising appends to one batch) and, when `findStored`, finds which
 * readings are already stored, in the same round trip.
 */
async function lockBatchAndFindStored(
  client: PgPoolClientLike,
  request: AppendRequest,
  findStored: boolean,
): Promise<{ batch: LockedBatch; stored: Set<string> }> {
  const query = findStored
    ? statement("lock_batch_find_stored", SQL.lockBatchAndFindStored, [
        request.batchId,
        request.readings.map((r) => r.messageHash),
      ])
    : statement("lock_batch", SQL.lockBatch, [request.batchId]);
  const { rows } = await client.query<{
    status: string | null;
    message_count: number | null;
    stored: string;
  }>(query);
  const row = rows[0] ?? { status: null, message_count: null, stored: "[]" };
  if (row.status !== null && row.status !== "pending") {
    throw new StoreError(`batch ${request.batchId} is ${row.status}, not pending`);
  }
  const batch =
    row.status === null
      ? { exists: false, messageCount: 0 }
      : { exists: true, messageCount: row.message_count ?? 0 };
  const pairs = JSON.parse(row.stored || "[]") as Array<[string, string]>;
  return { batch, stored: new Set(pairs.map(([hash, device]) => duplicateKey(hash, device))) };
}

/** Calls `request.plan` and checks the plan continues the stored batch with exactly these readings. */
function checkedPlan(ctx: AppendContext, readings: readonly Reading[]): BatchAppendPlan {
  const plan = ctx.request.plan(readings);
  const { batch } = ctx;
  const first = plan.leaves[0]?.leafIndex;
  const consistent =
    plan.batchId === ctx.request.batchId &&
    plan.createsBatch === !batch.exists &&
    plan.leaves.length === readings.length &&
    plan.messageCount === batch.messageCount + readings.length &&
    plan.leaves.every((leaf, i) => leaf.leafIndex === batch.messageCount + i && leaf.reading === readings[i]);
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

function batchValues(plan: BatchAppendPlan): unknown[] {
  return [plan.batchId, plan.batchHash, plan.messageCount, plan.startTimestamp, plan.endTimestamp];
}

/**
 * Writes `readings` as the next leaves: devices, the batch row, the messages. Their leaf positions
 * follow from the stored count alone, so when the batch row exists the plan (the Merkle root, a
 * few ms per 1000 leaves) is computed while PostgreSQL ingests the rows, and the batch row is
 * advanced after them.
 */
async function writeReadings(ctx: AppendContext, readings: readonly Reading[]): Promise<BatchAppendPlan> {
  const { client, batch } = ctx;
  const batchId = ctx.request.batchId;
  await rowStage(ctx, () => client.query(upsertDevicesStatement(readings)));
  let plan: BatchAppendPlan | undefined;
  if (!batch.exists) {
    plan = checkedPlan(ctx, readings);
    await client.query(statement("insert_batch", SQL.insertBatch, batchValues(plan)));
  }
  let planError: unknown;
  const planMeanwhile = (): void => {
    try {
      plan ??= checkedPlan(ctx, readings);
    } catch (error) {
      planError = error;
    }
  };
  const leaves = readings.map((reading, i) => ({ reading, leafIndex: batch.messageCount + i }));
  await rowStage(ctx, () => ctx.writer(client, batchId, leaves, planMeanwhile));
  if (planError !== undefined) throw planError;
  plan ??= checkedPlan(ctx, readings);
  if (batch.exists) {
    const { rowCount } = await client.query(
      statement("advance_batch", SQL.advanceBatch, [...batchValues(plan), batch.messageCount]),
    );
    if (rowCount !== 1) throw new BatchIntegrityError(batchId, `batch ${batchId} changed under the append`);
  }
  return plan;
}

type Attempt =
  | { readonly ok: true; readonly plan: BatchAppendPlan }
  | { readonly ok: false; readonly error: unknown };

/** Writes `readings` inside a savepoint, kept or rolled back; a refusal is rolled back and returned. */
async function attempt(ctx: AppendContext, readings: readonly Reading[], keep: boolean): Promise<Attempt> {
  const { client } = ctx;
  await client.query({ text: "SAVEPOINT veep_append" });
  let plan: BatchAppendPlan;
  try {
    plan = await writeReadings(ctx, readings);
  } catch (error) {
    if (!(error instanceof RowRefused)) throw error;
    await client.query({ text: "ROLLBACK TO SAVEPOINT veep_append" });
    return { ok: false, error: error.cause };
  }
  await client.query({ text: keep ? "RELEASE SAVEPOINT veep_append" : "ROLLBACK TO SAVEPOINT veep_append" });
  return { ok: true, plan };
}

/** Bisects `group` (whose write failed with `error`) down to the readings PostgreSQL refuses. */
async function isolate(ctx: AppendContext, group: readonly Reading[], error: unknown): Promise<Refusal[]> {
  if (group.length === 1) return [{ reading: group[0]!, error }];
  const middle = Math.ceil(group.length / 2);
  const refusals: Refusal[] = [];
  for (const half of [group.slice(0, middle), group.slice(middle)]) {
    const probe = await attempt(ctx, half, false);
    if (!probe.ok) refusals.push(...(await isolate(ctx, half, probe.error)));
  }
  // Each half is accepted alone but not together: refuse the last reading so the loop progresses.
  if (refusals.length === 0) refusals.push({ reading: group[group.length - 1]!, error });
  return refusals;
}

function refusalRecord({ reading, error }: Refusal): Rejection {
  const message = error instanceof Error ? error.message : String(error);
  return {
    topic: reading.topic,
    payload: reading.rawPayload,
    reason: "store_refused",
    detail: `SQLSTATE ${sqlState(error) ?? "unknown"}: ${message}`,
    receivedAt: reading.receivedAt,
  };
}

async function writeIsolating(ctx: AppendContext, fresh: readonly Reading[]) {
  let candidates = fresh;
  const refused: Rejection[] = [];
  while (candidates.length > 0) {
    const result = await attempt(ctx, candidates, true);
    if (result.ok) return { plan: result.plan, refused };
    const refusals = await isolate(ctx, candidates, result.error);
    refused.push(...refusals.map(refusalRecord));
    const bad = new Set(refusals.map((r) => r.reading));
    candidates = candidates.filter((r) => !bad.has(r));
  }
  return { plan: null, refused };
}

async function appendOnce(ctx: Omit<AppendContext, "batch">): Promise<AppendResult> {
  const { client, request } = ctx;
  const { batch, stored } = await lockBatchAndFindStored(client, request, ctx.findStored);
  const full: AppendContext = { ...ctx, batch };
  const duplicates: Reading[] = [];
  const fresh: Reading[] = [];
  for (const reading of request.readings) {
    const key = duplicateKey(reading.messageHash, reading.deviceId);
    if (stored.has(key)) {
      duplicates.push(reading);
    } else {
      stored.add(key);
      fresh.push(reading);
    }
  }
  let written: { plan: BatchAppendPlan | null; refused: Rejection[] } = { plan: null, refused: [] };
  if (ctx.isolating) {
    written = await writeIsolating(full, fresh);
  } else if (fresh.length > 0) {
    written = { plan: await writeReadings(full, fresh), refused: [] };
  }
  await insertDeadLetters(client, [...request.rejections, ...written.refused]);
  return { plan: written.plan, duplicates, refused: written.refused };
}

/**
 * {@link Store.append} for PostgreSQL, in one transaction: lock the open batch row (from the second
 * attempt on, also drop readings whose `message_hash` is stored, in the same statement), plan,
 * upsert devices, create or advance the batch, insert the messages once (with batch and leaf
 * position), record rejections, COMMIT.
 *
 * The first attempt assumes nothing is stored yet and writes without savepoints: a duplicate makes
 * the unique index refuse the insert (23505) and the transaction is redone with the look-up; a
 * deadlock or serialization failure is redone too (3 attempts in all). If PostgreSQL refuses a
 * row's content, the transaction is redone in savepoints, bisecting the refused rows out
 * (dead-lettered as `store_refused` with the SQLSTATE).
 */
export async function appendReadings(
  pool: PgPoolLike,
  request: AppendRequest,
  writer: MessageWriter,
): Promise<AppendResult> {
  let isolating = false;
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt >= MAX_ATTEMPTS;
    const findStored = attempt > 1 || isolating;
    try {
      return await inTransaction(pool, (client) =>
        appendOnce({ client, request, writer, lastAttempt, isolating, findStored }),
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
