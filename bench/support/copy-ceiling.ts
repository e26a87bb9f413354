import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { createDecoder } from "../../src/message/index.js";
import type { Reading } from "../../src/message/types.js";
import { migrateDatabase, withDatabase } from "./database.js";
import type { Workload } from "./workload.js";

/** Rows per transaction, and per batch row. */
const CHUNK = 1000;
const COLUMNS = "(message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)";

/** The valid readings of the workload, decoded once as the bridge decodes them (not timed). */
function validReadings(workload: Workload): Reading[] {
  const decoder = createDecoder();
  const readings: Reading[] = [];
  for (let i = 0; i < workload.total; i++) {
    const { topic, payload, bad } = workload.message(i);
    if (bad) continue;
    const result = decoder.decode({ topic, payload, receivedAt: new Date() });
    if (!result.ok) throw new Error(`workload message ${i} was rejected: ${result.rejection.detail}`);
    readings.push(result.reading);
  }
  return readings;
}

/** COPY's text format escapes. */
const text = (value: string): string =>
  value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );

function copyRows(batchId: string, chunk: readonly Reading[]): Buffer {
  let rows = "";
  chunk.forEach((r, leaf) => {
    rows += `${r.messageId}\t${batchId}\t${text(r.deviceId)}\t${text(r.topic)}\t${r.messageHash}\t${text(
      r.canonicalJson,
    )}\t${r.receivedAt.toISOString()}\t${leaf}\n`;
  });
  return Buffer.from(rows);
}

async function copyChunk(client: pg.Client, chunk: readonly Reading[]): Promise<void> {
  const batchId = randomUUID();
  await client.query("BEGIN");
  await client.query(
    `INSERT INTO batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp)
     VALUES ($1, repeat('0', 64), $2, $3, $4)`,
    [batchId, chunk.length, chunk[0]!.receivedAt, chunk.at(-1)!.receivedAt],
  );
  await pipeline(
    Readable.from([copyRows(batchId, chunk)]),
    client.query(copyFrom(`COPY messages ${COLUMNS} FROM STDIN`)),
  );
  await client.query("COMMIT");
}

/**
 * The database's ceiling for these rows: the workload's valid readings COPYed (text format) into a
 * fresh, fully migrated database, 1,000 rows and one batch row per transaction; rows/s, COPY
 * serialisation included, decoding and hashing not.
 */
export async function copyCeiling(
  adminUrl: string,
  workload: Workload,
): Promise<{ rows: number; seconds: number }> {
  const readings = validReadings(workload);
  return withDatabase(adminUrl, async (url) => {
    await migrateDatabase(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const devices = new Map(readings.map((r) => [r.deviceId, r]));
      await client.query(
        "INSERT INTO devices (device_id, tenant_id, site_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
        [
          [...devices.keys()],
          [...devices.values()].map((r) => r.tenantId),
          [...devices.values()].map((r) => r.siteId),
        ],
      );
      const started = performance.now();
      for (let i = 0; i < readings.length; i += CHUNK) await copyChunk(client, readings.slice(i, i + CHUNK));
      return { rows: readings.length, seconds: (performance.now() - started) / 1000 };
    } finally {
      await client.end();
    }
  });
}
