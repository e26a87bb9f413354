/**
 * The seed's common queries (seed-data-model.md §5.1–5.7) as named prepared statements with typed
 * rows. The SQL is the seed's; the changes are bind parameters where it hard-codes `LIMIT`/`OFFSET`,
 * a `leaf_index` tie-break in 5.2 (stable pages when two messages share `received_at`),
 * `raw_data::text` (parsed here, so the pool's JSON parser is irrelevant) and, in 5.7, `age` as
 * milliseconds (`EXTRACT(EPOCH FROM NOW() - start_timestamp) * 1000`) instead of an interval.
 */
import type { JsonObject } from "../../message/types.js";
import type { BatchStatus } from "../store.js";
import type { PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";
import { isUuid } from "./uuid.js";

/** §5.1 Get Batch Details. */
export interface BatchDetails {
  /** Batch UUID. */
  readonly batchId: string;
  /** Hex Merkle root. */
  readonly batchHash: string;
  /** `message_count` as stored. */
  readonly messageCount: number;
  /** First `received_at`. */
  readonly startTimestamp: Date;
  /** Latest `received_at`. */
  readonly endTimestamp: Date;
  /** Status. */
  readonly status: BatchStatus;
  /** Messages actually referencing the batch (`COUNT(m.message_id)`). */
  readonly actualMessageCount: number;
}

/** §5.2 a message of a batch. */
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

/** §5.3 Verify Message in Batch. */
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

/** §5.4 Get Device Statistics. */
export interface DeviceStatistics {
  /** Device. */
  readonly deviceId: string;
  /** Tenant. */
  readonly tenantId: string;
  /** Site. */
  readonly siteId: string;
  /** `devices.message_count` (nullable in the seed's schema). */
  readonly messageCount: number | null;
  /** `devices.last_seen` (nullable in the seed's schema). */
  readonly lastSeen: Date | null;
  /** Messages received in the last 24 hours. */
  readonly messagesLast24h: number;
}

/** §5.5 a message of a device. */
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

/** §5.6 Get Recent Batches. */
export interface RecentBatch {
  /** Batch UUID. */
  readonly batchId: string;
  /** Hex Merkle root. */
  readonly batchHash: string;
  /** Message count. */
  readonly messageCount: number;
  /** First `received_at`. */
  readonly startTimestamp: Date;
  /** Latest `received_at`. */
  readonly endTimestamp: Date;
  /** Status. */
  readonly status: BatchStatus;
  /** When the batch row was created. */
  readonly createdAt: Date;
}

/** §5.7 Get Pending Batches. */
export interface PendingBatch {
  /** Batch UUID. */
  readonly batchId: string;
  /** Messages so far. */
  readonly messageCount: number;
  /** First `received_at`. */
  readonly startTimestamp: Date;
  /** `NOW() - start_timestamp` in milliseconds (the seed's `age`). */
  readonly ageMs: number;
}

/** Paging of `PostgresStore.getBatchMessages`. */
export interface PageOptions {
  /** @defaultValue `100` */
  readonly limit?: number;
  /** @defaultValue `0` */
  readonly offset?: number;
}

const Q = {
  batchDetails: `SELECT
    b.batch_id, b.batch_hash, b.message_count, b.start_timestamp, b.end_timestamp, b.status,
    COUNT(m.message_id) as actual_message_count
FROM batches b
LEFT JOIN messages m ON b.batch_id = m.batch_id
WHERE b.batch_id = $1
GROUP BY b.batch_id`,
  batchMessages: `SELECT
    m.message_id, m.device_id, m.topic, m.message_hash, m.raw_data::text AS raw_data, m.received_at
FROM messages m
WHERE m.batch_id = $1
ORDER BY m.received_at ASC, m.leaf_index ASC
LIMIT $2 OFFSET $3`,
  messageBatch: `SELECT
    m.message_id, m.message_hash, b.batch_id, b.batch_hash, b.status
FROM messages m
JOIN batches b ON m.batch_id = b.batch_id
WHERE m.message_id = $1`,
  deviceStatistics: `SELECT
    d.device_id, d.tenant_id, d.site_id, d.message_count, d.last_seen,
    COUNT(m.message_id) as messages_last_24h
FROM devices d
LEFT JOIN messages m ON d.device_id = m.device_id
    AND m.received_at > NOW() - INTERVAL '24 hours'
WHERE d.tenant_id = $1
GROUP BY d.device_id, d.tenant_id, d.site_id, d.message_count, d.last_seen
ORDER BY d.last_seen DESC`,
  deviceMessages: `SELECT
    m.message_id, m.batch_id, m.message_hash, m.raw_data::text AS raw_data, m.received_at
FROM messages m
WHERE m.device_id = $1
    AND m.received_at >= $2
    AND m.received_at <= $3
ORDER BY m.received_at DESC
LIMIT $4`,
  recentBatches: `SELECT
    batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, created_at
FROM batches
ORDER BY created_at DESC
LIMIT $1`,
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

/** §5.1: the batch with the number of messages actually referencing it, or `null`. */
export async function getBatchDetails(db: PgQueryable, batchId: string): Promise<BatchDetails | null> {
  if (!isUuid(batchId)) return null;
  const { rows } = await db.query<Row>(statement("q51_batch_details", Q.batchDetails, [batchId]));
  const r = rows[0];
  if (!r) return null;
  return {
    batchId: r.batch_id as string,
    batchHash: r.batch_hash as string,
    messageCount: r.message_count as number,
    startTimestamp: r.start_timestamp as Date,
    endTimestamp: r.end_timestamp as Date,
    status: r.status as BatchStatus,
    actualMessageCount: r.actual_message_count as number,
  };
}

/** §5.2: a page of a batch's messages, oldest first. */
export async function getBatchMessages(
  db: PgQueryable,
  batchId: string,
  { limit = 100, offset = 0 }: PageOptions = {},
): Promise<BatchMessage[]> {
  if (!isUuid(batchId)) return [];
  const { rows } = await db.query<Row>(
    statement("q52_batch_messages", Q.batchMessages, [batchId, limit, offset]),
  );
  return rows.map((r) => ({
    messageId: r.message_id as string,
    deviceId: r.device_id as string,
    topic: r.topic as string,
    messageHash: r.message_hash as string,
    rawData: json(r.raw_data),
    receivedAt: r.received_at as Date,
  }));
}

/** §5.3: a message with its batch's hash and status, or `null`. */
export async function getMessageBatch(db: PgQueryable, messageId: string): Promise<MessageBatch | null> {
  if (!isUuid(messageId)) return null;
  const { rows } = await db.query<Row>(statement("q53_message_batch", Q.messageBatch, [messageId]));
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

/** §5.4: a tenant's devices, most recently seen first, with their messages of the last 24 h. */
export async function getDeviceStatistics(db: PgQueryable, tenantId: string): Promise<DeviceStatistics[]> {
  const { rows } = await db.query<Row>(statement("q54_device_statistics", Q.deviceStatistics, [tenantId]));
  return rows.map((r) => ({
    deviceId: r.device_id as string,
    tenantId: r.tenant_id as string,
    siteId: r.site_id as string,
    messageCount: (r.message_count as number | null) ?? null,
    lastSeen: (r.last_seen as Date | null) ?? null,
    messagesLast24h: r.messages_last_24h as number,
  }));
}

/** §5.5: a device's messages received in `[from, to]`, newest first (at most `limit`, default 100). */
export async function searchDeviceMessages(
  db: PgQueryable,
  deviceId: string,
  from: Date,
  to: Date,
  limit = 100,
): Promise<DeviceMessage[]> {
  const { rows } = await db.query<Row>(
    statement("q55_device_messages", Q.deviceMessages, [deviceId, from, to, limit]),
  );
  return rows.map((r) => ({
    messageId: r.message_id as string,
    batchId: (r.batch_id as string | null) ?? null,
    messageHash: r.message_hash as string,
    rawData: json(r.raw_data),
    receivedAt: r.received_at as Date,
  }));
}

/** §5.6: the most recently created batches (default 20). */
export async function getRecentBatches(db: PgQueryable, limit = 20): Promise<RecentBatch[]> {
  const { rows } = await db.query<Row>(statement("q56_recent_batches", Q.recentBatches, [limit]));
  return rows.map((r) => ({
    batchId: r.batch_id as string,
    batchHash: r.batch_hash as string,
    messageCount: r.message_count as number,
    startTimestamp: r.start_timestamp as Date,
    endTimestamp: r.end_timestamp as Date,
    status: r.status as BatchStatus,
    createdAt: r.created_at as Date,
  }));
}

/** §5.7: pending batches, oldest first, with their age. */
export async function getPendingBatches(db: PgQueryable): Promise<PendingBatch[]> {
  const { rows } = await db.query<Row>(statement("q57_pending_batches", Q.pendingBatches));
  return rows.map((r) => ({
    batchId: r.batch_id as string,
    messageCount: r.message_count as number,
    startTimestamp: r.start_timestamp as Date,
    ageMs: r.age_ms as number,
  }));
}
