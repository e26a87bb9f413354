/**
 * Every statement the store runs, with a stable name: `pg` prepares a named statement once per
 * connection and then only binds values: prepared statements throughout.
 */
import type { PgQueryConfig } from "./pg-types.js";
import { storeTypes } from "./type-parsers.js";

/** A named statement bound to values, with the store's per-query type parsers. */
export function statement(name: string, text: string, values: unknown[] = []): PgQueryConfig {
  return { name: `veep_${name}`, text, values, types: storeTypes };
}

const UPSERT_DEVICES = `INSERT INTO devices AS d (device_id, tenant_id, site_id, last_seen, message_count, firmware_version, updated_at)
SELECT u.device_id, u.tenant_id, u.site_id, u.last_seen, u.message_count, u.firmware_version, NOW()
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::timestamptz[], $5::bigint[], $6::varchar[])
  AS u(device_id, tenant_id, site_id, last_seen, message_count, firmware_version)
ON CONFLICT (device_id) DO UPDATE SET
  tenant_id = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen THEN EXCLUDED.tenant_id ELSE d.tenant_id END,
  site_id = CASE WHEN d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen THEN EXCLUDED.site_id ELSE d.site_id END,
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
  message_count = COALESCE(d.message_count, 0) + EXCLUDED.message_count,
  firmware_version = COALESCE(EXCLUDED.firmware_version, d.firmware_version),
  updated_at = NOW()`;

/** Statement texts by purpose. */
export const SQL = {
  /**
   * Locks batch $1 and finds which hashes of $2 are stored from $3 on (the look-back window of the
   * time partitions).
   */
  lockBatchAndFindStored: `WITH b AS (SELECT status, message_count FROM batches WHERE batch_id = $1 FOR UPDATE)
SELECT (SELECT status FROM b) AS status, (SELECT message_count FROM b) AS message_count,
  (SELECT COALESCE(json_agg(json_build_array(m.message_hash, m.device_id)), '[]'::json)::text
     FROM unnest($2::varchar[]) AS h(hash)
     JOIN messages m ON m.message_hash = h.hash AND m.received_at >= $3::timestamptz) AS stored`,
  /**
   * Which hashes of $1 are stored in [$2, $3): the partitions before the ones being written. A join
   * on unnest, not `= ANY($1)`: one index probe per hash, where a generic plan of `= ANY` can compare
   * every row of a partition with every hash.
   */
  storedEarlier: `SELECT m.message_hash, m.device_id FROM unnest($1::varchar[]) AS h(hash)
JOIN messages m ON m.message_hash = h.hash
WHERE m.received_at >= $2::timestamptz AND m.received_at < $3::timestamptz`,
  /**
   * Devices upserted ($1–$6) and the batch row created ($7–$11) for owner $13, sealed at once when
   * $12.
   */
  insertBatch: `WITH devices_upserted AS (${UPSERT_DEVICES} RETURNING 1)
INSERT INTO batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, owner)
VALUES ($7, $8, $9, $10, $11, CASE WHEN $12::boolean THEN 'complete' ELSE 'pending' END, $13::varchar)`,
  upsertDevices: UPSERT_DEVICES,
  /** Readings per device ($1) and minute ($2): $3 more (device_minute_counts, migration 014). */
  countDeviceMinutes: `INSERT INTO device_minute_counts AS c (device_id, minute, count)
SELECT * FROM unnest($1::varchar[], $2::timestamptz[], $3::bigint[])
ON CONFLICT (device_id, minute) DO UPDATE SET count = c.count + EXCLUDED.count`,
  /**
   * Devices upserted ($1–$6) and the batch row advanced from count $12 to the plan ($7–$11), sealed
   * when $13: the row is locked and checked in the same statement (0 rows: the batch moved on).
   */
  advanceBatchWithDevices: `WITH devices_upserted AS (${UPSERT_DEVICES} RETURNING 1)
UPDATE batches SET batch_hash = $8, message_count = $9, start_timestamp = $10, end_timestamp = $11,
  status = CASE WHEN $13::boolean THEN 'complete' ELSE status END
WHERE batch_id = $7 AND status = 'pending' AND message_count = $12`,
  /** The batch row advanced from count $6 ($1–$5), sealed when $7. */
  advanceBatch: `UPDATE batches SET batch_hash = $2, message_count = $3, start_timestamp = $4, end_timestamp = $5,
  status = CASE WHEN $7::boolean THEN 'complete' ELSE status END
WHERE batch_id = $1 AND status = 'pending' AND message_count = $6`,
  insertMessagesUnnest: `INSERT INTO messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index, device_signature)
SELECT m.message_id, $1::uuid, m.device_id, m.topic, m.message_hash, m.raw_data::jsonb, m.received_at, m.leaf_index, m.device_signature
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::int[], $9::text[])
  AS m(message_id, device_id, topic, message_hash, raw_data, received_at, leaf_index, device_signature)`,
  /** One row per checked signature of the stored readings: message ids $1, outcomes $2, keys $3. */
  insertSignatureVerifications: `INSERT INTO signature_verifications (message_id, is_valid, public_key)
SELECT * FROM unnest($1::uuid[], $2::boolean[], $3::varchar[])`,
  /** Locks the device row $1 and returns its key (no row: the device is unknown). */
  lockDeviceKey: `SELECT public_key FROM devices WHERE device_id = $1 FOR UPDATE`,
  /** Sets device $1's key to $2 (NULL: removes it). */
  setDeviceKey: `UPDATE devices SET public_key = $2, updated_at = NOW() WHERE device_id = $1`,
  /** Registers device $1 of tenant $2, site $3 with key $4 before its first reading. */
  insertDeviceWithKey: `INSERT INTO devices (device_id, tenant_id, site_id, public_key, last_seen, message_count)
VALUES ($1, $2, $3, $4, NULL, 0)`,
  deviceKeys: `SELECT device_id, public_key FROM devices WHERE public_key IS NOT NULL`,
  insertDeadLetters: `INSERT INTO dead_letters (topic, device_id, payload, payload_hash, reason, detail, received_at)
SELECT d.topic, d.device_id, p.payload, encode(sha256(p.payload), 'hex'), d.reason, d.detail, d.received_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
  WITH ORDINALITY AS d(topic, device_id, payload_hex, reason, detail, received_at, n)
  CROSS JOIN LATERAL (SELECT decode(d.payload_hex, 'hex') AS payload) p
ORDER BY d.n
ON CONFLICT (payload_hash, (md5(COALESCE('device:' || device_id, 'topic:' || topic))))
  WHERE payload_hash IS NOT NULL DO NOTHING
RETURNING payload_hash, device_id, topic`,
  sealBatch: `UPDATE batches SET status = 'complete'
WHERE batch_id = $1 AND status = 'pending' AND batch_hash = $2 AND message_count = $3
RETURNING batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status`,
  failBatch: `UPDATE batches SET status = 'failed', failure_reason = $2 WHERE batch_id = $1`,
  getBatch: `SELECT batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, failure_reason
FROM batches WHERE batch_id = $1`,
  /**
   * The pending batch of owner $1 (NULL: of no owner); failing that, a pending batch of no owner,
   * claimed for $1 in the same statement (a row another caller is claiming is skipped).
   */
  openBatches: `WITH own AS (
  SELECT batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status FROM batches
  WHERE status = 'pending' AND owner IS NOT DISTINCT FROM $1::varchar
  ORDER BY start_timestamp ASC, created_at ASC, batch_id ASC LIMIT 1
), claimed AS (
  UPDATE batches SET owner = $1::varchar
  WHERE batch_id = (
    SELECT batch_id FROM batches
    WHERE status = 'pending' AND owner IS NULL AND $1::varchar IS NOT NULL AND NOT EXISTS (SELECT 1 FROM own)
    ORDER BY start_timestamp ASC, created_at ASC, batch_id ASC LIMIT 1 FOR UPDATE SKIP LOCKED
  ) AND owner IS NULL
  RETURNING batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status
)
SELECT * FROM own UNION ALL SELECT * FROM claimed LIMIT 1`,
  /** The leaves of batch $1, from the partitions of its time span only. */
  batchLeaves: `SELECT m.message_id, m.leaf_index, m.message_hash
FROM batches b JOIN messages m ON m.batch_id = b.batch_id
  AND m.received_at >= b.start_timestamp AND m.received_at <= b.end_timestamp
WHERE b.batch_id = $1 ORDER BY m.leaf_index ASC`,
  deadLetters: `SELECT id::text AS id, topic, encode(payload, 'hex') AS payload_hex, reason, detail, received_at
FROM dead_letters ORDER BY id DESC LIMIT $1`,
} as const;
