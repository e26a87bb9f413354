/**
 * Every statement the store runs, with a stable name: `pg` prepares a named statement once per
 * connection and then only binds values (seed §7.3: "always use prepared statements").
 */
import type { PgQueryConfig } from "./pg-types.js";
import { storeTypes } from "./type-parsers.js";

/** A named statement bound to values, with the store's per-query type parsers. */
export function statement(name: string, text: string, values: unknown[] = []): PgQueryConfig {
  return { name: `veep_${name}`, text, values, types: storeTypes };
}

/** Statement texts by purpose. */
export const SQL = {
  lockBatch: `SELECT status, message_count, '[]' AS stored FROM batches WHERE batch_id = $1 FOR UPDATE`,
  lockBatchAndFindStored: `WITH b AS (SELECT status, message_count FROM batches WHERE batch_id = $1 FOR UPDATE)
SELECT (SELECT status FROM b) AS status, (SELECT message_count FROM b) AS message_count,
  (SELECT COALESCE(json_agg(json_build_array(m.message_hash, m.device_id)), '[]'::json)::text
     FROM messages m WHERE m.message_hash = ANY($2::varchar[])) AS stored`,
  upsertDevices: `INSERT INTO devices AS d (device_id, tenant_id, site_id, last_seen, message_count, firmware_version, updated_at)
SELECT u.device_id, u.tenant_id, u.site_id, u.last_seen, u.message_count, u.firmware_version, NOW()
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::timestamptz[], $5::bigint[], $6::varchar[])
  AS u(device_id, tenant_id, site_id, last_seen, message_count, firmware_version)
ON CONFLICT (device_id) DO UPDATE SET
  tenant_id = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen THEN EXCLUDED.tenant_id ELSE d.tenant_id END,
  site_id = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen THEN EXCLUDED.site_id ELSE d.site_id END,
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
  message_count = COALESCE(d.message_count, 0) + EXCLUDED.message_count,
  firmware_version = COALESCE(EXCLUDED.firmware_version, d.firmware_version),
  updated_at = NOW()`,
  insertBatch: `INSERT INTO batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status)
VALUES ($1, $2, $3, $4, $5, 'pending')`,
  advanceBatch: `UPDATE batches SET batch_hash = $2, message_count = $3, start_timestamp = $4, end_timestamp = $5
WHERE batch_id = $1 AND status = 'pending' AND message_count = $6`,
  insertMessagesUnnest: `INSERT INTO messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)
SELECT m.message_id, $1::uuid, m.device_id, m.topic, m.message_hash, m.raw_data::jsonb, m.received_at, m.leaf_index
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::int[])
  AS m(message_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)`,
  insertDeadLetters: `INSERT INTO dead_letters (topic, payload, reason, detail, received_at)
SELECT d.topic, decode(d.payload_hex, 'hex'), d.reason, d.detail, d.received_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
  AS d(topic, payload_hex, reason, detail, received_at)`,
  sealBatch: `UPDATE batches SET status = 'complete'
WHERE batch_id = $1 AND status = 'pending' AND batch_hash = $2 AND message_count = $3
RETURNING batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status`,
  failBatch: `UPDATE batches SET status = 'failed', failure_reason = $2 WHERE batch_id = $1`,
  getBatch: `SELECT batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, failure_reason
FROM batches WHERE batch_id = $1`,
  openBatches: `SELECT batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status
FROM batches WHERE status = 'pending' ORDER BY start_timestamp ASC, created_at ASC, batch_id ASC LIMIT 1`,
  batchLeaves: `SELECT message_id, leaf_index, message_hash FROM messages WHERE batch_id = $1 ORDER BY leaf_index ASC`,
  messageLeaf: `SELECT m.message_id, m.batch_id, m.leaf_index, m.message_hash, m.raw_data::text AS raw_data,
  b.batch_hash, b.message_count, b.status
FROM messages m JOIN batches b ON b.batch_id = m.batch_id WHERE m.message_id = $1`,
  deadLetters: `SELECT id::text AS id, topic, encode(payload, 'hex') AS payload_hex, reason, detail, received_at
FROM dead_letters ORDER BY id DESC LIMIT $1`,
} as const;
