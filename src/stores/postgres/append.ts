import { BatchIntegrityError, StoreError } from "../../errors.js";
import type { Reading, Rejection } from "../../message/types.js";
import { duplicateKey } from "../duplicate-key.js";
import type { AppendRequest, AppendResult, BatchAppendPlan } from "../store.js";
import { insertDeadLetters } from "./dead-letters.js";
import { deviceMinuteValues, deviceValues } from "./devices.js";
import {
  isConcurrentDuplicate,
  isMissingPartition,
  isRetryable,
  isRowRefusal,
  sqlState,
  toStoreError,
} from "./errors.js";
import { insertSignatureVerifications, type MessageWriter } from "./message-writer.js";
import { lookbackRange, type PartitionInterval, partitionStart } from "./partitions.js";
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

/** The first attempt's plan did not continue the stored batch: retry with the batch row locked and read. */
class StalePlan extends Error {
  constructor() {
    super("the open batch moved on");
  }
}

/** A reading of the first attempt has a copy in an earlier partition: retry with the look-up. */
class StoredEarlier extends Error {
  constructor() {
    super("a reading is stored in an earlier partition");
  }
}

/** How an append finds copies across the time partitions of `messages`, and makes missing ones. */
export interface AppendPartitioning {
  /** The partitions' span. */
  readonly interval: PartitionInterval;
  /** Earlier partitions searched for a copy (see `PostgresPartitionOptions.lookback`). */
  readonly lookback: number;
  /** How far back a reading flagged as a redelivery is searched (see `PostgresPartitionOptions`). */
  readonly redeliveryWindowMs: number;
  /** Creates the partitions that take these times; rejects when it may not (an external manager). */
  ensure(times: readonly Date[]): Promise<void>;
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
   * Lock the batch row and look the readings' hashes up before planning (every attempt but the
   * first, and always when isolating). The first attempt does not: the unique index on
   * `message_hash` refuses a duplicate anyway (23505), and the retry then looks them up.
   */
  readonly findStored: boolean;
  /** On the last attempt a taken `message_id` is a refusal, not a reason to retry. */
  readonly lastAttempt: boolean;
  readonly request: AppendRequest;
  readonly batch: LockedBatch;
  readonly writer: MessageWriter;
  readonly partitions: AppendPartitioning;
}

/** The earliest and latest `receivedAt` of `readings` (undefined when there are none). */
function timeSpan(readings: readonly Reading[]): { from: Date; to: Date } | undefined {
  if (readings.length === 0) return undefined;
  let from = readings[0]!.receivedAt;
  let to = from;
  for (const { receivedAt } of readings) {
    if (receivedAt < from) from = receivedAt;
    if (receivedAt > to) to = receivedAt;
  }
  return { from, to };
}

/**
 * Where stored copies of `readings` may be, before the partitions they are written into: the
 * `lookback` partitions before them, reaching back `redeliveryWindowMs` for readings flagged as
 * redeliveries. Undefined when there is nowhere to look.
 */
function earlierRange(
  readings: readonly Reading[],
  partitions: AppendPartitioning,
): { readonly from: Date; readonly to: Date } | undefined {
  const span = timeSpan(readings);
  if (span === undefined) return undefined;
  const range = lookbackRange(span.from, span.to, partitions.interval, partitions.lookback);
  const redelivered = timeSpan(readings.filter((r) => r.redelivered === true));
  const from =
    redelivered === undefined
      ? range.from
      : new Date(Math.min(range.from.getTime(), redelivered.from.getTime() - partitions.redeliveryWindowMs));
  return from < range.to ? { from, to: range.to } : undefined;
}

/** Where the readings' copies may be stored: the look-back window up to now (see `earlierRange`). */
function searchFrom(readings: readonly Reading[], partitions: AppendPartitioning): Date {
  const span = timeSpan(readings);
  if (span === undefined) return new Date(0);
  const earlier = earlierRange(readings, partitions);
  return earlier?.from ?? partitionStart(span.from, partitions.interval);
}

/**
 * Locks the open batch row (serialising appends to one batch) and finds which readings are already
 * stored, in the same round trip.
 */
async function lockBatchAndFindStored(
  client: PgPoolClientLike,
  request: AppendRequest,
  partitions: AppendPartitioning,
): Promise<{ batch: LockedBatch; stored: Set<string> }> {
  const query = statement("lock_batch_find_stored", SQL.lockBatchAndFindStored, [
    request.batchId,
    request.readings.map((r) => r.messageHash),
    searchFrom(request.readings, partitions),
  ]);
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

async function rowStage(ctx: { readonly lastAttempt: boolean }, work: () => Promise<unknown>): Promise<void> {
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

/** The parameters of `SQL.insertBatch`: the devices, then the new batch row with its owner. */
function insertBatchValues(
  request: AppendRequest,
  plan: BatchAppendPlan,
  readings: readonly Reading[],
): unknown[] {
  return [...deviceValues(readings), ...batchValues(plan), sealing(request, plan), request.owner ?? null];
}

/** `true` when the request asks for the batch to be sealed once it holds `plan.messageCount` leaves. */
function sealing(request: AppendRequest, plan: BatchAppendPlan): boolean {
  const { sealAt } = request;
  return sealAt !== undefined && plan.messageCount >= sealAt;
}

/**
 * Writes `readings` as the next leaves: the devices and the batch row (one statement for a new
 * batch), then the messages. Their leaf positions follow from the stored count alone, so when the
 * batch row exists the plan (the Merkle root, a few ms per 1000 leaves) is computed while
 * PostgreSQL ingests the rows, and the batch row is advanced after them. The batch is sealed in
 * the same statement that creates or advances it when the request's `sealAt` is reached.
 */
async function writeReadings(ctx: AppendContext, readings: readonly Reading[]): Promise<BatchAppendPlan> {
  const { client, batch } = ctx;
  const batchId = ctx.request.batchId;
  let plan: BatchAppendPlan | undefined;
  if (batch.exists) {
    const values = deviceValues(readings);
    await rowStage(ctx, () => client.query(statement("upsert_devices", SQL.upsertDevices, values)));
  } else {
    const created = checkedPlan(ctx, readings);
    plan = created;
    const values = insertBatchValues(ctx.request, created, readings);
    await rowStage(ctx, () => client.query(statement("insert_batch", SQL.insertBatch, values)));
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
  await countDeviceMinutes(client, readings);
  await insertSignatureVerifications(client, leaves);
  plan ??= checkedPlan(ctx, readings);
  if (batch.exists) {
    const values = [...batchValues(plan), batch.messageCount, sealing(ctx.request, plan)];
    const { rowCount } = await client.query(statement("advance_batch", SQL.advanceBatch, values));
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
    deviceId: reading.deviceId,
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

/** `true` when `plan` lays `readings` out as contiguous leaves from its first position. */
function wellFormed(plan: BatchAppendPlan, readings: readonly Reading[], batchId: string): boolean {
  const first = plan.leaves[0]?.leafIndex ?? -1;
  return (
    plan.batchId === batchId &&
    plan.leaves.length === readings.length &&
    plan.createsBatch === (first === 0) &&
    plan.messageCount === first + readings.length &&
    plan.leaves.every((leaf, i) => leaf.leafIndex === first + i && leaf.reading === readings[i])
  );
}

/** Adds the stored readings to `device_minute_counts` (the last-24-hours statistics). */
async function countDeviceMinutes(client: PgPoolClientLike, readings: readonly Reading[]): Promise<void> {
  if (readings.length === 0) return;
  await client.query(statement("count_device_minutes", SQL.countDeviceMinutes, deviceMinuteValues(readings)));
}

/**
 * A partition's unique index refuses a copy within that partition; a copy redelivered into a later
 * partition is looked for here, in the `lookback` partitions before (one index probe per reading
 * and partition), and the readings flagged as redeliveries further back, over
 * `redeliveryWindowMs`. Any found sends the append to the retry that leaves them out.
 */
async function checkEarlierPartitions(
  client: PgPoolClientLike,
  readings: readonly Reading[],
  partitions: AppendPartitioning,
): Promise<void> {
  const redelivered = readings.filter((r) => r.redelivered === true);
  const searches: { readonly readings: readonly Reading[]; readonly from: Date; readonly to: Date }[] = [];
  const span = timeSpan(readings);
  if (span === undefined) return;
  const near = lookbackRange(span.from, span.to, partitions.interval, partitions.lookback);
  if (near.from < near.to) searches.push({ readings, ...near });
  const far = earlierRange(redelivered, partitions);
  if (far !== undefined) {
    // The window before the near one: the near one is already searched for every reading.
    const to = near.from < near.to ? new Date(Math.min(far.to.getTime(), near.from.getTime())) : far.to;
    if (far.from < to) searches.push({ readings: redelivered, from: far.from, to });
  }
  for (const search of searches) {
    const { rows } = await client.query<{ message_hash: string; device_id: string }>(
      statement("stored_earlier", SQL.storedEarlier, [
        search.readings.map((r) => r.messageHash),
        search.from,
        search.to,
      ]),
    );
    if (rows.length === 0) continue;
    const keys = new Set(rows.map((row) => duplicateKey(row.message_hash, row.device_id)));
    if (search.readings.some((r) => keys.has(duplicateKey(r.messageHash, r.deviceId))))
      throw new StoredEarlier();
  }
}

/**
 * The first attempt, for the common case (no reading stored yet, the bridge's view of the batch
 * current): the batch row is created, or advanced from the count the plan starts at, together with
 * the devices in one statement, the earlier partitions are searched for copies, then the messages
 * go in and the devices' per-minute counts are added: six round trips with BEGIN and COMMIT (seven
 * when the messages go in by COPY; one more each for signature checks and dead letters, if any).
 * A batch row that already exists (23505) or has another count (no row updated) means the plan was
 * stale; a redelivery makes the message insert fail (23505): either way the append is retried with
 * the batch row locked and the stored readings looked up.
 */
async function appendOptimistic(ctx: Omit<AppendContext, "batch">): Promise<AppendResult> {
  const { client, request } = ctx;
  const { readings, batchId } = request;
  let plan: BatchAppendPlan | null = null;
  if (readings.length > 0) {
    const laidOut = request.plan(readings);
    plan = laidOut;
    if (!wellFormed(laidOut, readings, batchId)) {
      throw new BatchIntegrityError(
        batchId,
        `plan for batch ${batchId} does not lay its readings out contiguously`,
      );
    }
    const seal = sealing(request, laidOut);
    if (laidOut.createsBatch) {
      const values = insertBatchValues(request, laidOut, readings);
      await rowStage(ctx, () => client.query(statement("insert_batch", SQL.insertBatch, values)));
    } else {
      const from = laidOut.leaves[0]!.leafIndex;
      const values = [...deviceValues(readings), ...batchValues(laidOut), from, seal];
      let rowCount: number | null = null;
      await rowStage(ctx, async () => {
        ({ rowCount } = await client.query(
          statement("advance_batch_devices", SQL.advanceBatchWithDevices, values),
        ));
      });
      if (rowCount !== 1) throw new StalePlan();
    }
    await checkEarlierPartitions(client, readings, ctx.partitions);
    await rowStage(ctx, () => ctx.writer(client, batchId, laidOut.leaves));
    await countDeviceMinutes(client, readings);
    await insertSignatureVerifications(client, laidOut.leaves);
  }
  const repeated = await insertDeadLetters(client, request.rejections);
  return {
    plan,
    ...(plan !== null && sealing(request, plan) ? { sealed: true } : {}),
    duplicates: [],
    refused: [],
    ...(repeated.length > 0 ? { duplicateRejections: repeated } : {}),
  };
}

async function appendOnce(ctx: Omit<AppendContext, "batch">): Promise<AppendResult> {
  if (!ctx.findStored) return appendOptimistic(ctx);
  const { client, request } = ctx;
  const { batch, stored } = await lockBatchAndFindStored(client, request, ctx.partitions);
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
  const repeated = await insertDeadLetters(client, [...request.rejections, ...written.refused]);
  const sealed = written.plan !== null && sealing(request, written.plan);
  return {
    plan: written.plan,
    ...(sealed ? { sealed } : {}),
    duplicates,
    refused: written.refused.filter((r) => !repeated.includes(r)),
    ...(repeated.length > 0 ? { duplicateRejections: repeated } : {}),
  };
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
  partitions: AppendPartitioning,
): Promise<AppendResult> {
  let isolating = false;
  let partitionsMade = false;
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt >= MAX_ATTEMPTS;
    const findStored = attempt > 1 || isolating;
    try {
      return await inTransaction(pool, (client) =>
        appendOnce({ client, request, writer, lastAttempt, isolating, findStored, partitions }),
      );
    } catch (error) {
      if (error instanceof RowRefused && !isolating) {
        isolating = true;
        attempt -= 1;
        continue;
      }
      if (isMissingPartition(error) && !partitionsMade && request.readings.length > 0) {
        // A reading outside every partition (the clock jumped, or maintenance lagged): make its partition.
        await partitions.ensure(request.readings.map((r) => r.receivedAt)).catch((made: unknown) => {
          throw toStoreError("append", made);
        });
        partitionsMade = true;
        attempt -= 1;
        continue;
      }
      if (
        !lastAttempt &&
        (error instanceof StalePlan || error instanceof StoredEarlier || isRetryable(error))
      )
        continue;
      throw toStoreError("append", error instanceof RowRefused ? error.cause : error);
    }
  }
}
