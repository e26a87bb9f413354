/**
 * `npm run bench:volume`: the PostgreSQL store at volume. Loads N readings (10 devices, spread over
 * several days, with real message hashes, leaf positions and Merkle roots, so `verify` could run on
 * them) straight by COPY into the partitioned schema, then prints, in one run:
 *   - ingest through the store's own append (1,000 readings per commit) into the empty database and
 *     into a partition that already holds a full day of the loaded rows, with the GIN index's
 *     `fastupdate` on (PostgreSQL's default) and off;
 *   - each read query of the store repeated, p50 and p95 in ms (first and deep pages of the lists),
 *     with the EXPLAIN (ANALYZE, BUFFERS) of one run of each;
 *   - the cost of the cross-partition de-duplication check, and the disk used per million readings.
 * It asserts nothing. Options: --rows N (10,000,000), --days D (4), --runs R (30), --commits C (30),
 * --interval hour|day|week|month (hour: partitions of about 100,000 readings), --no-plans; DATABASE_URL (a superuser URL: the bench creates and drops its own database) or an
 * embedded PostgreSQL. Progress on stderr, results on stdout.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { OpenBatch } from "../src/bridge/open-batch.js";
import { canonicalJson, hashCanonicalJson, IncrementalMerkleTree } from "../src/hashing/index.js";
import { messageIdAt, messageIdTime } from "../src/message/message-id.js";
import {
  type Page,
  type PartitionInterval,
  type PostgresStore,
  postgresStore,
} from "../src/stores/postgres/index.js";
import { partitionStart, shiftPartitions } from "../src/stores/postgres/partitions.js";
import { READ_QUERIES } from "../src/stores/postgres/read-queries.js";
import { makeReading, seedPayload } from "../src/testing/index.js";
import { postgresServer, withDatabase } from "./support/database.js";
import { machineFacts } from "./support/machine.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string" },
    days: { type: "string" },
    runs: { type: "string" },
    commits: { type: "string" },
    interval: { type: "string" },
    "no-plans": { type: "boolean" },
  },
});
const ROWS = Number(values.rows ?? process.env.BENCH_VOLUME_ROWS ?? 10_000_000);
const DAYS = Number(values.days ?? process.env.BENCH_VOLUME_DAYS ?? 4);
const RUNS = Number(values.runs ?? 30);
const COMMITS = Number(values.commits ?? 30);
const PLANS = values["no-plans"] !== true;
/** Partitions of about 100,000 readings at the default workload: their indexes fit the stock shared_buffers. */
const INTERVAL = (values.interval ?? process.env.BENCH_VOLUME_INTERVAL ?? "hour") as PartitionInterval;
const DEVICES = Array.from({ length: 10 }, (_, i) => `SENSOR_${String(i + 1).padStart(3, "0")}`);
const BATCH = 1000;
const CHUNK = 100_000;
const DAY = 86_400_000;

const started = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);
};
const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const copyText = (value: string): string =>
  value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );

async function copy(client: pg.PoolClient, sql: string, text: string): Promise<void> {
  await pipeline(Readable.from([Buffer.from(text)]), client.query(copyFrom(sql)));
}

/**
 * Loads `ROWS` readings received evenly from `start` to `end`, `BATCH` per sealed batch with its real
 * root, `CHUNK` per transaction, with the devices and the per-minute counts; returns rows/s.
 */
async function load(pool: pg.Pool, start: number, end: number): Promise<number> {
  const step = (end - start) / ROWS;
  const minutes = new Map<string, number>();
  const recent = Date.now() - 2 * DAY;
  const t0 = performance.now();
  const client = await pool.connect();
  try {
    await client.query(
      `INSERT INTO devices (device_id, tenant_id, site_id, message_count, last_seen)
       SELECT unnest($1::varchar[]), 'factory1', 'line2', $2, $3
       ON CONFLICT (device_id) DO UPDATE SET message_count = devices.message_count + EXCLUDED.message_count`,
      [DEVICES, Math.round(ROWS / DEVICES.length), new Date(end)],
    );
    for (let n = 0; n < ROWS; n += CHUNK) {
      const size = Math.min(CHUNK, ROWS - n);
      const batchLines: string[] = [];
      const messageLines: string[] = [];
      for (let b = 0; b < size; b += BATCH) {
        const batchId = randomUUID();
        const tree = new IncrementalMerkleTree();
        const count = Math.min(BATCH, size - b);
        let first = "";
        let last = "";
        for (let leaf = 0; leaf < count; leaf++) {
          const i = n + b + leaf;
          const device = DEVICES[i % DEVICES.length]!;
          const at = start + i * step;
          const iso = new Date(at).toISOString();
          const canonical = canonicalJson(seedPayload(device, i, "volume"));
          const hash = hashCanonicalJson(canonical);
          tree.appendMessageHash(hash);
          if (leaf === 0) first = iso;
          last = iso;
          messageLines.push(
            `${messageIdAt(new Date(at))}\t${batchId}\t${device}\tveep/factory1/line2/${device}/data\t${hash}\t${copyText(canonical)}\t${iso}\t${leaf}\n`,
          );
          if (at > recent) {
            const key = `${device}\t${new Date(Math.floor(at / 60_000) * 60_000).toISOString()}`;
            minutes.set(key, (minutes.get(key) ?? 0) + 1);
          }
        }
        batchLines.push(`${batchId}\t${tree.rootHex()}\t${count}\t${first}\t${last}\tcomplete\t${last}\n`);
      }
      await client.query("BEGIN");
      await copy(
        client,
        "COPY batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status, created_at) FROM STDIN",
        batchLines.join(""),
      );
      await copy(
        client,
        "COPY messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index) FROM STDIN",
        messageLines.join(""),
      );
      await client.query("COMMIT");
      if ((n / CHUNK) % 10 === 9 || n + size >= ROWS)
        log(
          `loaded ${fmt(n + size)} of ${fmt(ROWS)} readings (${fmt((n + size) / ((performance.now() - t0) / 1000))}/s)`,
        );
    }
    const rows = [...minutes.entries()].map(([key, count]) => `${key}\t${count}\n`).join("");
    await copy(client, "COPY device_minute_counts (device_id, minute, count) FROM STDIN", rows);
  } finally {
    client.release();
  }
  return ROWS / ((performance.now() - t0) / 1000);
}

/** `commits` appends of `BATCH` fresh readings received at `at`, through the store: rows/s, median ms per commit. */
async function ingest(
  store: PostgresStore,
  at: number,
  commits: number,
): Promise<{ rate: number; medianMs: number }> {
  const salt = randomUUID();
  const durations: number[] = [];
  let batch = new OpenBatch();
  for (let c = 0; c < commits; c++) {
    const readings = Array.from({ length: BATCH }, (_, i) => {
      const device = DEVICES[i % DEVICES.length]!;
      return makeReading(
        `veep/factory1/line2/${device}/data`,
        seedPayload(device, c * BATCH + i, salt),
        new Date(at + c * BATCH + i),
      );
    });
    const t = performance.now();
    const result = await store.append(batch.request(readings, []));
    durations.push(performance.now() - t);
    batch.apply(result.plan!);
    await store.sealBatch({
      batchId: batch.batchId,
      batchHash: batch.batchHash,
      messageCount: batch.messageCount,
    });
    batch = new OpenBatch();
  }
  const total = durations.reduce((a, b) => a + b, 0);
  durations.sort((a, b) => a - b);
  return { rate: (commits * BATCH) / (total / 1000), medianMs: durations[Math.floor(durations.length / 2)]! };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface QueryCase {
  readonly name: string;
  /** Runs the query once with the i-th parameters. */
  run(i: number): Promise<unknown>;
  /** The SQL and parameters of one run, for EXPLAIN. */
  readonly explain?: { readonly sql: string; readonly params: readonly unknown[] };
}

async function main(): Promise<void> {
  const server = await postgresServer();
  try {
    out(`veep-bridge volume benchmark, ${new Date().toISOString()}`);
    for (const line of await machineFacts(server.adminUrl, server.label)) out(line);
    out(
      `workload: ${fmt(ROWS)} readings of 10 devices over ${DAYS} days (about ${fmt(ROWS / DAYS)} a day), partitions by ${INTERVAL}, ` +
        `${BATCH} per batch; each query ${RUNS} times`,
    );
    out();
    await withDatabase(server.adminUrl, async (url) => {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on("error", () => undefined); // idle connections ended as the database is dropped
      const store = postgresStore({ pool, partitions: { interval: INTERVAL, aheadDays: 2 } });
      await store.open();
      const end = Date.now() - 3_600_000;
      const start = end - DAYS * DAY;
      // The partitions made at migration (daily, from yesterday) are still empty: all of them give way
      // to partitions of INTERVAL over the whole loaded span and two days ahead.
      const { rows: made } = await pool.query<{ name: string }>("SELECT name FROM veep_message_partitions");
      for (const { name } of made) {
        await pool.query(
          `DROP TABLE IF EXISTS "${name}", "${name.replace("messages_", "signature_verifications_")}"`,
        );
      }
      await pool.query("DELETE FROM veep_message_partitions");
      await pool.query("SELECT count(*) FROM veep_create_message_partitions($1, $2)", [
        new Date(start),
        new Date(Date.now() + 2 * DAY),
      ]);

      log("ingest into the empty database");
      await pool.query("CHECKPOINT");
      const empty = await ingest(store, Date.now(), COMMITS);
      log(`loading ${fmt(ROWS)} readings by COPY`);
      const loadRate = await load(pool, start, end);
      log("VACUUM ANALYZE, CHECKPOINT");
      await pool.query("VACUUM ANALYZE");
      // Both ingest figures start from a checkpoint: the load's dirty pages are written first.
      await pool.query("CHECKPOINT");

      // The middle of the last partition the load filled whole.
      const lastFull = shiftPartitions(partitionStart(new Date(end), INTERVAL), INTERVAL, -1);
      const span = shiftPartitions(lastFull, INTERVAL, 1).getTime() - lastFull.getTime();
      const fullDay = lastFull.getTime() + span / 2;
      const { rows: partRows } = await pool.query<{ part: string; n: number }>(
        `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM messages
         WHERE received_at >= $1 AND received_at < $2 GROUP BY 1`,
        [lastFull, new Date(lastFull.getTime() + span)],
      );
      const part = partRows[0]!;
      log(`ingest into ${part.part} (${fmt(part.n)} rows)`);
      const full = await ingest(store, fullDay, COMMITS);
      const { rows: gin } = await pool.query<{ name: string }>(
        "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass AND indexrelid::regclass::text LIKE '%raw_data'",
        [part.part],
      );
      await pool.query(`ALTER INDEX ${gin[0]!.name} SET (fastupdate = off)`);
      log("ingest with fastupdate off");
      const noFastupdate = await ingest(store, fullDay + 60_000, COMMITS);
      await pool.query(`ALTER INDEX ${gin[0]!.name} RESET (fastupdate)`);

      // Query parameters from the data.
      const { rows: someBatches } = await pool.query<{ batch_id: string }>(
        `SELECT batch_id FROM batches WHERE status = 'complete' ORDER BY random() LIMIT ${RUNS}`,
      );
      const { rows: someMessages } = await pool.query<{ message_id: string }>(
        `SELECT message_id FROM messages TABLESAMPLE SYSTEM (0.1) LIMIT ${RUNS}`,
      );
      const batchIds = someBatches.map((r) => r.batch_id);
      const messageIds = someMessages.map((r) => r.message_id);
      const device = (i: number): string => DEVICES[i % DEVICES.length]!;
      const dayRange = (i: number) => {
        const to = new Date(end - (i % DAYS) * DAY);
        return { from: new Date(to.getTime() - DAY), to };
      };
      const deep = async <T>(
        read: (after?: string) => Promise<Page<T>>,
        pages: number,
      ): Promise<string | undefined> => {
        let after: string | undefined;
        for (let p = 0; p < pages; p++) after = (await read(after)).nextCursor ?? undefined;
        return after;
      };
      const deepBatch = await deep(
        (after) => store.getBatchMessages(batchIds[0]!, { limit: 100, ...(after ? { after } : {}) }),
        5,
      );
      const deepDevice = await deep(
        (after) =>
          store.searchDeviceMessages(device(0), dayRange(0), { limit: 100, ...(after ? { after } : {}) }),
        200,
      );
      const deepRecent = await deep(
        (after) => store.getRecentBatches({ limit: 20, ...(after ? { after } : {}) }),
        100,
      );
      const cases: QueryCase[] = [
        {
          name: "1. batch details",
          run: (i) => store.getBatchDetails(batchIds[i % batchIds.length]!),
          explain: { sql: READ_QUERIES.batchDetails, params: [batchIds[0]] },
        },
        {
          name: "2. batch messages, page 1",
          run: (i) => store.getBatchMessages(batchIds[i % batchIds.length]!),
          explain: { sql: READ_QUERIES.batchMessages, params: [batchIds[0], null, null, 101] },
        },
        {
          name: "2. batch messages, page 6",
          run: () =>
            store.getBatchMessages(batchIds[0]!, { limit: 100, ...(deepBatch ? { after: deepBatch } : {}) }),
        },
        {
          name: "3. message → batch",
          run: (i) => store.getMessageBatch(messageIds[i % messageIds.length]!),
          explain: {
            sql: READ_QUERIES.messageBatchAt,
            params: [
              messageIds[0],
              new Date(messageIdTime(messageIds[0]!)!),
              new Date(messageIdTime(messageIds[0]!)! + 1),
            ],
          },
        },
        {
          name: "4. device statistics",
          run: () => store.getDeviceStatistics("factory1"),
          explain: { sql: READ_QUERIES.deviceStatistics, params: ["factory1", null, null, 101] },
        },
        {
          name: "5. device messages, 1 day, page 1",
          run: (i) => store.searchDeviceMessages(device(i), dayRange(i)),
          explain: {
            sql: READ_QUERIES.deviceMessages,
            params: [device(0), dayRange(0).from, dayRange(0).to, null, null, 101],
          },
        },
        {
          name: "5. device messages, page 201",
          run: () =>
            store.searchDeviceMessages(device(0), dayRange(0), {
              limit: 100,
              ...(deepDevice ? { after: deepDevice } : {}),
            }),
        },
        {
          name: "6. recent batches, page 1",
          run: () => store.getRecentBatches(),
          explain: { sql: READ_QUERIES.recentBatches, params: [null, null, 21] },
        },
        {
          name: "6. recent batches, page 101",
          run: () => store.getRecentBatches({ limit: 20, ...(deepRecent ? { after: deepRecent } : {}) }),
        },
        {
          name: "7. pending batches",
          run: () => store.getPendingBatches(),
          explain: { sql: READ_QUERIES.pendingBatches, params: [] },
        },
      ];
      const results: Array<{ name: string; p50: number; p95: number; max: number }> = [];
      for (const q of cases) {
        await q.run(0);
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          const t = performance.now();
          await q.run(i);
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        results.push({
          name: q.name,
          p50: percentile(times, 50),
          p95: percentile(times, 95),
          max: times.at(-1)!,
        });
        log(`${q.name}: p95 ${times.length ? percentile(times, 95).toFixed(2) : "?"} ms`);
      }

      // The cross-partition de-duplication check of one append: 1,000 hashes looked up in the day before.
      const { rows: probe } = await pool.query<{ message_hash: string }>(
        "SELECT message_hash FROM messages WHERE received_at >= $1 AND received_at < $2 LIMIT 1000",
        [lastFull, new Date(fullDay)],
      );
      const lookback: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        await pool.query(
          `SELECT m.message_hash, m.device_id FROM unnest($1::varchar[]) AS h(hash) JOIN messages m ON m.message_hash = h.hash
           WHERE m.received_at >= $2 AND m.received_at < $3`,
          [probe.map((r) => r.message_hash), shiftPartitions(lastFull, INTERVAL, -1), lastFull],
        );
        lookback.push(performance.now() - t);
      }
      lookback.sort((a, b) => a - b);

      const { rows: size } = await pool.query<{ bytes: string }>(
        `SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'messages'::regclass`,
      );
      const bytes = Number(size[0]!.bytes);
      // Index bytes per reading in the partition the ingest figures wrote into, index by index.
      const { rows: indexSizes } = await pool.query<{ name: string; bytes: string; n: string }>(
        `SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid)::bigint AS bytes,
                (SELECT count(*) FROM ${part.part})::bigint AS n
         FROM pg_index i WHERE i.indrelid = $1::regclass ORDER BY 2 DESC`,
        [part.part],
      );
      const partitionRows = Number(indexSizes[0]?.n ?? 1);
      const perReading = (b: string | number) => Number(b) / partitionRows;
      const indexTotal = indexSizes.reduce((sum, r) => sum + Number(r.bytes), 0);

      out(`load by COPY (indexes in place): ${fmt(loadRate)} readings/s`);
      out();
      out("ingest through store.append, 1,000 readings per commit:");
      out(
        `  into the empty database                   ${fmt(empty.rate).padStart(8)} readings/s, median ${empty.medianMs.toFixed(1)} ms per commit`,
      );
      out(
        `  into ${part.part} (${fmt(part.n)} rows)     ${fmt(full.rate).padStart(8)} readings/s, median ${full.medianMs.toFixed(1)} ms per commit  (${(full.rate / empty.rate).toFixed(2)}× empty)`,
      );
      out(
        `    the same, GIN fastupdate off           ${fmt(noFastupdate.rate).padStart(8)} readings/s, median ${noFastupdate.medianMs.toFixed(1)} ms per commit  (${(noFastupdate.rate / empty.rate).toFixed(2)}× empty)`,
      );
      out(
        `  cross-partition de-duplication check, 1,000 readings: p50 ${percentile(lookback, 50).toFixed(2)} ms, p95 ${percentile(lookback, 95).toFixed(2)} ms`,
      );
      out(
        `  indexes of ${part.part} at the end (${fmt(partitionRows)} rows): ${fmt(perReading(indexTotal))} bytes per reading: ` +
          indexSizes
            .map((r) => `${r.name.replace(`${part.part}_`, "")} ${fmt(perReading(r.bytes))}`)
            .join(", "),
      );
      out();
      out(`queries, ${RUNS} runs each (ms):`);
      out(`  ${"query".padEnd(34)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"max".padStart(8)}`);
      for (const r of results)
        out(
          `  ${r.name.padEnd(34)} ${r.p50.toFixed(2).padStart(8)} ${r.p95.toFixed(2).padStart(8)} ${r.max.toFixed(2).padStart(8)}`,
        );
      out();
      out(
        `disk: ${fmt(bytes / 1e9, 2)} GB for ${fmt(ROWS + 3 * COMMITS * BATCH)} readings (tables and indexes): ${fmt(bytes / 1e6 / ((ROWS + 3 * COMMITS * BATCH) / 1e6))} MB per million`,
      );
      out(
        `  at 8.64 million readings a day: ${fmt(((bytes / (ROWS + 3 * COMMITS * BATCH)) * 8.64e6) / 1e9, 1)} GB a day, ${fmt(((bytes / (ROWS + 3 * COMMITS * BATCH)) * 60e6) / 1e9, 0)} GB for 60 million`,
      );
      if (PLANS) {
        out();
        out("plans (EXPLAIN (ANALYZE, BUFFERS)):");
        for (const q of cases) {
          if (!q.explain) continue;
          const { rows: plan } = await pool.query<{ "QUERY PLAN": string }>(
            `EXPLAIN (ANALYZE, BUFFERS) ${q.explain.sql}`,
            [...q.explain.params],
          );
          out();
          out(`-- ${q.name}`);
          for (const row of plan) out(row["QUERY PLAN"]);
        }
      }
      await store.close();
      await pool.end();
    });
  } finally {
    await server.stop();
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
