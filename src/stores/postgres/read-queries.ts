/**
 * The read queries (batch details, a batch's messages, a message's batch, device statistics, a
 * device's messages in a time range, recent batches, pending batches) as named prepared statements
 * with typed rows. The four lists are keyset pages (`PageOptions`: a limit and the cursor of the
 * last page, never an offset); their order always ends with a unique column, so pages are stable.
 * Queries about a batch read only the partitions of its time span. `raw_data` is selected as text
 * (parsed here, so the pool's JSON parser is irrelevant) and a pending batch's age is in
 * milliseconds (`EXTRACT(EPOCH FROM NOW() - start_timestamp) * 1000`), not an interval.
 */
import { InvalidOptionError } from "../../errors.js";
import type { JsonObject } from "../../message/types.js";
import { integerOption } from "../../validation.js";
import type { BatchRecord, BatchStatus } from "../store.js";
import { type BatchRow, batchRecord } from "./batches.js";
import { IN_ID_PARTITION, queryByMessageId } from "./by-message-id.js";
import type { PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";
import { isUuid } from "./uuid.js";

/** A batch's details, with the number of messages that reference it. */
export interface BatchDetails extends BatchRecord {
  /** Messages actually referencing the batch (`COUNT(m.message_id)`). */
  readonly actualMessageCount: number;
}

/** A message of a batch. */
export interface BatchMessage {
  /** Message UUID. */
  readonly messageId: string;
  /** Device. */
  readonly deviceId: string;
  /** MQTT topic. */
  readonly topic: string;
  /** Hex message hash. */
  readonly messageHash: string;
  /** The stored payload. */
  readonly rawData: JsonObject;
  /** When it was received. */
  readonly receivedAt: Date;
}

/** A message's hash with its batch's hash and status, to verify the message in its batch. */
export interface MessageBatch {
  /** Message UUID. */
  readonly messageId: string;
  /** Hex message hash. */
  readonly messageHash: string;
  /** Its batch. */
  readonly batchId: string;
  /** The batch's root. */
  readonly batchHash: string;
  /** The batch's status. */
  readonly status: BatchStatus;
}

/** Statistics of a device. */
export interface DeviceStatistics {
  /** Device. */
  readonly deviceId: string;
  /** Tenant. */
  readonly tenantId: string;
  /** Site. */
  readonly siteId: string;
  /** `devices.message_count` (nullable in the schema). */
  readonly messageCount: number | null;
  /** `devices.last_seen` (nullable in the schema). */
  readonly lastSeen: Date | null;
  /** Messages received in the last 24 hours. */
  readonly messagesLast24h: number;
}

/** A message of a device. */
export interface DeviceMessage {
  /** Message UUID. */
  readonly messageId: string;
  /** Its batch (`null` only for rows written outside veep-bridge). */
  readonly batchId: string | null;
  /** Hex message hash. */
  readonly messageHash: string;
  /** The stored payload. */
  readonly rawData: JsonObject;
  /** When it was received. */
  readonly receivedAt: Date;
}

/** A recently created batch. */
export interface RecentBatch extends BatchRecord {
  /** When the batch row was created. */
  readonly createdAt: Date;
}

/** A batch still pending. */
export interface PendingBatch {
  /** Batch UUID. */
  readonly batchId: string;
  /** Messages so far. */
  readonly messageCount: number;
  /** First `received_at`. */
  readonly startTimestamp: Date;
  /** `NOW() - start_timestamp` in milliseconds (the batch's age). */
  readonly ageMs: number;
}

/**
 * How much of a list to read: at most `limit` items, after the position `after` (the `nextCursor`
 * of the previous page). Pages are keyset pages: each continues where the last one ended, at the
 * same cost however deep, and rows added meanwhile do not shift them.
 */
export interface PageOptions {
  /** Most items of the page (1 to 10,000). @defaultValue 100 (20 for recent batches) */
  readonly limit?: number;
  /** The `nextCursor` of the previous page; absent for the first page. */
  readonly after?: string;
}

/** One page of a list. */
export interface Page<T> {
  /** The items, in the list's order. */
  readonly items: readonly T[];
  /** Give this as `after` to read the next page; `null` when this page is the last. */
  readonly nextCursor: string | null;
}

/** A cursor's fields: exact text forms of the sort keys of the last item. */
function encodeCursor(fields: readonly string[]): string {
  return Buffer.from(JSON.stringify(fields)).toString("base64url");
}

/** @throws `InvalidOptionError` for a cursor this list did not produce */
function decodeCursor(cursor: string | undefined, size: number): string[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const fields = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(fields) && fields.length === size && fields.every((f) => typeof f === "string"))
      return fields as string[];
  } catch {
    // reported below
  }
  throw new InvalidOptionError("after", "not a cursor of this list (give a page's nextCursor)");
}

/** How one list query is read a page at a time. */
interface PageQuery<T> {
  /** Prepared statement name. */
  readonly name: string;
  /** SQL whose last three parameters are the cursor's two fields and the row limit. */
  readonly sql: string;
  /** The parameters before those three. */
  readonly params: readonly unknown[];
  readonly defaultLimit: number;
  readonly item: (row: Row) => T;
  /** The columns (text forms of the sort keys) a cursor is made of. */
  readonly keys: readonly [string, string];
  /** Set when the query can only find nothing (an id that is not a UUID): options are still checked. */
  readonly empty?: boolean;
}

/** Reads one page: one row beyond the limit tells whether there is a next page. */
async function readPage<T>(db: PgQueryable, query: PageQuery<T>, options: PageOptions): Promise<Page<T>> {
  const limit = limitOf(options, query.defaultLimit);
  const after = decodeCursor(options.after, 2);
  if (query.empty) return { items: [], nextCursor: null };
  const { rows } = await db.query<Row>(
    statement(query.name, query.sql, [...query.params, after?.[0] ?? null, after?.[1] ?? null, limit + 1]),
  );
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  return {
    items: shown.map(query.item),
    nextCursor: more && last ? encodeCursor(query.keys.map((key) => String(last[key]))) : null,
  };
}

const MESSAGE_BATCH = `SELECT
    m.message_id, m.message_hash, b.batch_id, b.batch_hash, b.status
FROM messages m
JOIN batches b ON m.batch_id = b.batch_id
WHERE m.message_id = $1`;

/** The read queries' SQL, by name (exported for the volume benchmark's plans). */
export const READ_QUERIES = {
  /** A batch with the messages that reference it, counted in the partitions of its time span. */
  batchDetails: `SELECT
    b.batch_id, b.batch_hash, b.message_count, b.start_timestamp, b.end_timestamp, b.status,
    COUNT(m.message_id) as actual_message_count
FROM batches b
LEFT JOIN messages m ON b.batch_id = m.batch_id
  AND m.received_at >= b.start_timestamp AND m.received_at <= b.end_timestamp
WHERE b.batch_id = $1
GROUP BY b.batch_id`,
  /**
   * Messages of batch $1 after ($2, $3) in (received_at, leaf_index) order; $4 rows. The batch's
   * time span comes from sub-selects, values PostgreSQL has before it opens a partition, so only
   * the partitions of the span are read (a join condition would let it scan every partition's
   * `received_at` index for the first rows in order).
   */
  batchMessages: `SELECT
    m.message_id, m.device_id, m.topic, m.message_hash, m.raw_data::text AS raw_data, m.received_at,
    m.received_at::text AS received_at_text, m.leaf_index::text AS leaf_index_text
FROM messages m
WHERE m.batch_id = $1
  AND m.received_at >= (SELECT start_timestamp FROM batches WHERE batch_id = $1)
  AND m.received_at <= (SELECT end_timestamp FROM batches WHERE batch_id = $1)
  AND m.received_at >= COALESCE($2::timestamptz, '-infinity')
  AND ($2::timestamptz IS NULL OR (m.received_at, m.leaf_index) > ($2::timestamptz, $3::int))
ORDER BY m.received_at ASC, m.leaf_index ASC
LIMIT $4`,
  messageBatch: MESSAGE_BATCH,
  /** The same for an id that carries its time (UUID version 7): only the partition of [$2, $3). */
  messageBatchAt: `${MESSAGE_BATCH}${IN_ID_PARTITION}`,
  /**
   * Devices of tenant $1, most recently seen first (never seen first, as DESC sorts NULL), after
   * ($2, $3); $4 rows. Readings of the last 24 hours: the per-minute counts of the minutes wholly
   * inside the window, plus the readings of the one minute it cuts, counted exactly.
   */
  deviceStatistics: `WITH w AS (SELECT NOW() - INTERVAL '24 hours' AS since)
SELECT
    d.device_id, d.tenant_id, d.site_id, d.message_count, d.last_seen,
    COALESCE((SELECT sum(c.count) FROM device_minute_counts c
              WHERE c.device_id = d.device_id AND c.minute >= date_trunc('minute', w.since) + INTERVAL '1 minute'), 0)
    + (SELECT count(*) FROM messages m
       WHERE m.device_id = d.device_id AND m.received_at > w.since
         AND m.received_at < date_trunc('minute', w.since) + INTERVAL '1 minute') AS messages_last_24h,
    COALESCE(d.last_seen, 'infinity')::text AS seen_key
FROM devices d CROSS JOIN w
WHERE d.tenant_id = $1
  AND ($2::timestamptz IS NULL OR (COALESCE(d.last_seen, 'infinity'), d.device_id) < ($2::timestamptz, $3::varchar))
ORDER BY COALESCE(d.last_seen, 'infinity') DESC, d.device_id DESC
LIMIT $4`,
  /**
   * Messages of device $1 received in [$2, $3], newest first, after ($4, $5); $6 rows. The cursor's
   * time also bounds `received_at` alone, so the partitions after it are pruned.
   */
  deviceMessages: `SELECT
    m.message_id, m.batch_id, m.message_hash, m.raw_data::text AS raw_data, m.received_at,
    m.received_at::text AS received_at_text, m.message_id::text AS message_id_text
FROM messages m
WHERE m.device_id = $1
    AND m.received_at >= $2
    AND m.received_at <= $3
    AND m.received_at <= COALESCE($4::timestamptz, $3)
    AND ($4::timestamptz IS NULL OR (m.received_at, m.message_id) < ($4::timestamptz, $5::uuid))
ORDER BY m.received_at DESC, m.message_id DESC
LIMIT $6`,
  /** Batches, most recently created first, after ($1, $2); $3 rows. */
  recentBatches: `SELECT
    batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, created_at,
    created_at::text AS created_at_text, batch_id::text AS batch_id_text
FROM batches
WHERE ($1::timestamptz IS NULL OR (created_at, batch_id) < ($1::timestamptz, $2::uuid))
ORDER BY created_at DESC, batch_id DESC
LIMIT $3`,
  pendingBatches: `SELECT
    batch_id, message_count, start_timestamp,
    EXTRACT(EPOCH FROM (NOW() - start_timestamp)) * 1000 as age_ms
FROM batches
WHERE status = 'pending'
ORDER BY start_timestamp ASC`,
} as const;

type Row = Record<string, unknown>;

function json(text: unknown): JsonObject {
  return JSON.parse(text as string) as JsonObject;
}

function limitOf(options: PageOptions, fallback: number): number {
  return integerOption("limit", options.limit, fallback, { min: 1, max: 10_000 });
}

/** The batch with the number of messages actually referencing it, or `null`. */
export async function getBatchDetails(db: PgQueryable, batchId: string): Promise<BatchDetails | null> {
  if (!isUuid(batchId)) return null;
  const { rows } = await db.query<Row>(statement("q51_batch_details", READ_QUERIES.batchDetails, [batchId]));
  const r = rows[0];
  if (!r) return null;
  return { ...batchRecord(r as unknown as BatchRow), actualMessageCount: r.actual_message_count as number };
}

/** A page of a batch's messages, oldest first (then by leaf position). */
export async function getBatchMessages(
  db: PgQueryable,
  batchId: string,
  options: PageOptions = {},
): Promise<Page<BatchMessage>> {
  return readPage(
    db,
    {
      name: "q52_batch_messages",
      sql: READ_QUERIES.batchMessages,
      params: [batchId],
      empty: !isUuid(batchId),
      defaultLimit: 100,
      item: (r) => ({
        messageId: r.message_id as string,
        deviceId: r.device_id as string,
        topic: r.topic as string,
        messageHash: r.message_hash as string,
        rawData: json(r.raw_data),
        receivedAt: r.received_at as Date,
      }),
      keys: ["received_at_text", "leaf_index_text"],
    },
    options,
  );
}

/** A message with its batch's hash and status, or `null`. */
export async function getMessageBatch(db: PgQueryable, messageId: string): Promise<MessageBatch | null> {
  if (!isUuid(messageId)) return null;
  const rows = await queryByMessageId<Row>(db, "q53_message_batch", READ_QUERIES.messageBatch, messageId);
  const r = rows[0];
  if (!r) return null;
  return {
    messageId: r.message_id as string,
    messageHash: r.message_hash as string,
    batchId: r.batch_id as string,
    batchHash: r.batch_hash as string,
    status: r.status as BatchStatus,
  };
}

/** A page of a tenant's devices, most recently seen first, with their readings of the last 24 h. */
export async function getDeviceStatistics(
  db: PgQueryable,
  tenantId: string,
  options: PageOptions = {},
): Promise<Page<DeviceStatistics>> {
  return readPage(
    db,
    {
      name: "q54_device_statistics",
      sql: READ_QUERIES.deviceStatistics,
      params: [tenantId],
      defaultLimit: 100,
      item: (r) => ({
        deviceId: r.device_id as string,
        tenantId: r.tenant_id as string,
        siteId: r.site_id as string,
        messageCount: (r.message_count as number | null) ?? null,
        lastSeen: (r.last_seen as Date | null) ?? null,
        messagesLast24h: r.messages_last_24h as number,
      }),
      keys: ["seen_key", "device_id"],
    },
    options,
  );
}

/** A time range of a device's messages: `from` and `to` inclusive. */
export interface TimeRange {
  /** Earliest `received_at`. */
  readonly from: Date;
  /** Latest `received_at`. */
  readonly to: Date;
}

/** A page of a device's messages received in `[from, to]`, newest first. */
export async function searchDeviceMessages(
  db: PgQueryable,
  deviceId: string,
  range: TimeRange,
  options: PageOptions = {},
): Promise<Page<DeviceMessage>> {
  return readPage(
    db,
    {
      name: "q55_device_messages",
      sql: READ_QUERIES.deviceMessages,
      params: [deviceId, range.from, range.to],
      defaultLimit: 100,
      item: (r) => ({
        messageId: r.message_id as string,
        batchId: (r.batch_id as string | null) ?? null,
        messageHash: r.message_hash as string,
        rawData: json(r.raw_data),
        receivedAt: r.received_at as Date,
      }),
      keys: ["received_at_text", "message_id_text"],
    },
    options,
  );
}

/** A page of the batches, most recently created first. */
export async function getRecentBatches(
  db: PgQueryable,
  options: PageOptions = {},
): Promise<Page<RecentBatch>> {
  return readPage(
    db,
    {
      name: "q56_recent_batches",
      sql: READ_QUERIES.recentBatches,
      params: [],
      defaultLimit: 20,
      item: (r) => ({ ...batchRecord(r as unknown as BatchRow), createdAt: r.created_at as Date }),
      keys: ["created_at_text", "batch_id_text"],
    },
    options,
  );
}

/** Pending batches, oldest first, with their age. */
export async function getPendingBatches(db: PgQueryable): Promise<PendingBatch[]> {
  const { rows } = await db.query<Row>(statement("q57_pending_batches", READ_QUERIES.pendingBatches));
  return rows.map((r) => ({
    batchId: r.batch_id as string,
    messageCount: r.message_count as number,
    startTimestamp: r.start_timestamp as Date,
    ageMs: r.age_ms as number,
  }));
}
