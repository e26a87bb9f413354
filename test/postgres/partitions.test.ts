import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { verifyInclusion } from "../../src/hashing/index.js";
import {
  defaultMigrationsDirectory,
  migrate,
  type PostgresStoreOptions,
  postgresStore,
} from "../../src/stores/postgres/index.js";
import { makeReadings, redeliver } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { appendTo, type PgFixture, pgFixture } from "./helpers.js";

const DAY = 86_400_000;
const midnight = (offsetDays: number): Date => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offsetDays * DAY);
};

async function partitions(sql: pg.Client): Promise<Array<{ name: string; lower: Date; upper: Date }>> {
  const { rows } = await sql.query<{ name: string; lower_bound: Date; upper_bound: Date }>(
    "SELECT name, lower_bound, upper_bound FROM veep_message_partitions ORDER BY lower_bound",
  );
  return rows.map((r) => ({ name: r.name, lower: r.lower_bound, upper: r.upper_bound }));
}

async function storedCount(sql: pg.Client, hash: string): Promise<number> {
  const { rows } = await sql.query("SELECT count(*)::int AS n FROM messages WHERE message_hash = $1", [hash]);
  return rows[0].n;
}

describe("messages partitioned by time", () => {
  let fx: PgFixture | undefined;
  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });
  const open = async (options: PostgresStoreOptions = {}): Promise<PgFixture> => {
    fx = await pgFixture(options);
    return fx;
  };

  it("has daily partitions from yesterday to aheadDays ahead once the store is open", async () => {
    const { sql } = await open({ partitions: { aheadDays: 10 } });
    const made = await partitions(sql);
    expect(made[0]!.lower.getTime()).toBeLessThanOrEqual(midnight(-1).getTime());
    expect(made.at(-1)!.upper.getTime()).toBeGreaterThanOrEqual(Date.now() + 10 * DAY);
    expect(made.find((p) => p.lower.getTime() === midnight(0).getTime())?.name).toBe(
      `messages_p${midnight(0).toISOString().slice(0, 10).replaceAll("-", "")}`,
    );
  });

  it("migrate() makes the partitions a week ahead at every call, also when nothing is left to apply", async () => {
    const { sql, db } = await open();
    const last = (await partitions(sql)).at(-1)!;
    await sql.query(`DROP TABLE ${last.name}`);
    await sql.query(`DROP TABLE ${last.name.replace("messages_", "signature_verifications_")}`);
    await sql.query("DELETE FROM veep_message_partitions WHERE name = $1", [last.name]);
    const pool = new pg.Pool({ connectionString: db.url });
    const result = await migrate(pool);
    await pool.end();
    expect(result.applied).toEqual([]);
    expect((await partitions(sql)).at(-1)).toEqual(last);
  });

  it("makes no partition, also in a later migrate(), once a store said an external manager makes them", async () => {
    const { sql, db } = await open();
    const last = (await partitions(sql)).at(-1)!;
    const dropLast = async (): Promise<void> => {
      await sql.query(`DROP TABLE ${last.name}`);
      await sql.query(`DROP TABLE ${last.name.replace("messages_", "signature_verifications_")}`);
      await sql.query("DELETE FROM veep_message_partitions WHERE name = $1", [last.name]);
    };
    await dropLast();
    const external = postgresStore({ connectionString: db.url, partitions: { manager: "external" } });
    await external.open();
    await external.close();
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      await migrate(pool);
      expect((await partitions(sql)).map((p) => p.name)).not.toContain(last.name);
      const own = postgresStore({ connectionString: db.url });
      await own.open();
      await own.close();
      await dropLast();
      await migrate(pool);
      expect((await partitions(sql)).map((p) => p.name)).toContain(last.name);
    } finally {
      await pool.end();
    }
  });

  it("makes the partition of a reading outside every partition when it is appended", async () => {
    const { store, sql } = await open();
    const old = makeReadings(3, { start: new Date(Date.now() - 400 * DAY) });
    const future = makeReadings(2, { start: new Date(Date.now() + 40 * DAY) });
    const batch = new OpenBatch();
    const result = await appendTo(store, batch, [...old, ...future]);
    expect(result.plan?.leaves).toHaveLength(5);
    const { rows } = await sql.query<{ part: string }>(
      "SELECT tableoid::regclass::text AS part FROM messages ORDER BY received_at",
    );
    const day = (d: Date): string => d.toISOString().slice(0, 10).replaceAll("-", "");
    expect(rows.map((r) => r.part)).toEqual([
      ...old.map((r) => `messages_p${day(r.receivedAt)}`),
      ...future.map((r) => `messages_p${day(r.receivedAt)}`),
    ]);
    expect((await store.verifyAll()).ok).toBe(true);
  });

  it("recognises a copy redelivered into the next partition, and within one", async () => {
    const { store, sql } = await open();
    const [reading] = makeReadings(1, { start: new Date(midnight(0).getTime() - 100) });
    const first = new OpenBatch();
    await appendTo(store, first, [reading!]);
    const [copy] = redeliver([reading!]);
    const later = { ...copy!, receivedAt: new Date(midnight(0).getTime() + 100) };
    const second = new OpenBatch();
    const result = await appendTo(store, second, [later, ...makeReadings(2)]);
    expect(result.duplicates.map((r) => r.messageId)).toEqual([later.messageId]);
    expect(result.plan?.leaves).toHaveLength(2);
    const again = await appendTo(store, second, redeliver([later]));
    expect(again.duplicates).toHaveLength(1);
    expect(await storedCount(sql, reading!.messageHash)).toBe(1);
  });

  it("looks back `lookback` partitions: a copy two days later is stored again with 1 and recognised with 2", async () => {
    for (const lookback of [1, 2]) {
      const { store, sql } = await open({ partitions: { lookback } });
      const [reading] = makeReadings(1, { start: new Date(midnight(-2).getTime() + 3_600_000) });
      await appendTo(store, new OpenBatch(), [reading!]);
      const [copy] = redeliver([reading!]);
      const result = await appendTo(store, new OpenBatch(), [{ ...copy!, receivedAt: new Date() }]);
      expect(result.duplicates, `lookback ${lookback}`).toHaveLength(lookback === 2 ? 1 : 0);
      expect(await storedCount(sql, reading!.messageHash)).toBe(lookback === 2 ? 1 : 2);
      await fx!.dispose();
      fx = undefined;
    }
  });

  it("looks back `redeliveryWindowMs` for a copy the transport flagged as a redelivery", async () => {
    for (const window of [undefined, DAY]) {
      const { store, sql } = await open({
        partitions: { interval: "hour", aheadDays: 1, redeliveryWindowMs: window },
      });
      const [reading] = makeReadings(1, { start: new Date(Date.now() - 3 * DAY) });
      await appendTo(store, new OpenBatch(), [reading!]);
      const [copy] = redeliver([reading!]);
      const fresh = makeReadings(2);
      const result = await appendTo(store, new OpenBatch(), [
        ...fresh,
        { ...copy!, receivedAt: new Date(), redelivered: true },
      ]);
      const recognised = window === undefined; // the default window is 7 days
      expect(result.duplicates, `window ${window}`).toHaveLength(recognised ? 1 : 0);
      expect(result.plan?.leaves).toHaveLength(recognised ? 2 : 3);
      expect(await storedCount(sql, reading!.messageHash)).toBe(recognised ? 1 : 2);
      // Unflagged, the same copy is looked for only in the previous hour.
      const unflagged = await appendTo(store, new OpenBatch(), [
        { ...redeliver([reading!])[0]!, receivedAt: new Date() },
      ]);
      expect(unflagged.duplicates).toHaveLength(recognised ? 0 : 1);
      await fx!.dispose();
      fx = undefined;
    }
  });

  it("makes hourly partitions when told, and finds a message by its time-carrying id in its partition", async () => {
    const { store, sql } = await open({ partitions: { interval: "hour", aheadDays: 2 } });
    // The daily partitions not over yet, all empty, give way to hourly ones from the hour before this one.
    const made = await partitions(sql);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const hourly = made.filter((p) => p.upper.getTime() > Date.now());
    expect(hourly.every((p) => p.upper.getTime() - p.lower.getTime() === 3_600_000)).toBe(true);
    expect(hourly[0]!.lower.getTime()).toBe(hour);
    expect(hourly.at(-1)!.upper.getTime()).toBeGreaterThanOrEqual(Date.now() + 2 * DAY);
    const at = new Date(Date.now() + 3 * 3_600_000);
    const readings = makeReadings(3, { start: at });
    const batch = new OpenBatch();
    await appendTo(store, batch, readings);
    const label = at.toISOString().slice(0, 13).replaceAll("-", "").replace("T", "");
    const { rows } = await sql.query<{ part: string }>(
      "SELECT DISTINCT tableoid::regclass::text AS part FROM messages",
    );
    expect(rows.map((r) => r.part)).toEqual([`messages_p${label}`]);
    const proof = await store.getProof(readings[1]!.messageId);
    expect(verifyInclusion(proof!, { root: batch.batchHash, treeSize: 3 })).toBe(true);
    expect((await store.getMessageBatch(readings[2]!.messageId))?.batchId).toBe(batch.batchId);
  });

  it("keeps making partitions without overlap when the interval changes from day to week", async () => {
    const { db } = await open();
    const weekly = postgresStore({
      connectionString: db.url,
      partitions: { interval: "week", aheadDays: 30 },
    });
    await weekly.open();
    await weekly.close();
    const made = await partitions(fx!.sql);
    for (let i = 1; i < made.length; i++) expect(made[i]!.lower).toEqual(made[i - 1]!.upper);
    const spans = made.map((p) => (p.upper.getTime() - p.lower.getTime()) / DAY);
    expect(spans.filter((d) => d === 7).length).toBeGreaterThanOrEqual(3);
    expect(made.at(-1)!.upper.getTime()).toBeGreaterThanOrEqual(Date.now() + 30 * DAY);
    const last = made.at(-1)!;
    expect(last.lower.getUTCDay()).toBe(1); // weeks start on Monday, as date_trunc('week')
  });
});

describe("moving an existing, unpartitioned database to partitions (migration 013)", () => {
  let db: TestDatabase | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("copies every message and signature check into partitions; every root, proof and count still verifies", async () => {
    db = await createTestDatabase("vb_repartition");
    dir = await mkdtemp(join(tmpdir(), "veep-mig012-"));
    for (const file of await readdir(defaultMigrationsDirectory()))
      if (Number.parseInt(file, 10) <= 12)
        await cp(join(defaultMigrationsDirectory(), file), join(dir, file));
    const pool = new pg.Pool({ connectionString: db.url });
    pool.on("error", () => undefined); // a backend closing as the database is dropped
    await migrate(pool, { directory: dir });
    // Rows as the store wrote them before 013: two sealed batches, days apart, and a signature check.
    const batches = [makeReadings(7, { start: new Date(Date.now() - 20 * DAY) }), makeReadings(5)];
    const written: OpenBatch[] = [];
    for (const readings of batches) {
      const batch = new OpenBatch();
      const plan = batch.plan(readings);
      await pool.query(
        "INSERT INTO devices (device_id, tenant_id, site_id) SELECT unnest($1::varchar[]), 'factory1', 'line2' ON CONFLICT DO NOTHING",
        [[...new Set(readings.map((r) => r.deviceId))]],
      );
      await pool.query(
        "INSERT INTO batches (batch_id, batch_hash, message_count, start_timestamp, end_timestamp, status) VALUES ($1, $2, $3, $4, $5, 'complete')",
        [plan.batchId, plan.batchHash, plan.messageCount, plan.startTimestamp, plan.endTimestamp],
      );
      for (const { reading, leafIndex } of plan.leaves)
        await pool.query(
          `INSERT INTO messages (message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            reading.messageId,
            plan.batchId,
            reading.deviceId,
            reading.topic,
            reading.messageHash,
            reading.canonicalJson,
            reading.receivedAt,
            leafIndex,
          ],
        );
      batch.apply(plan);
      written.push(batch);
    }
    // Stored with a failed check (the "store" policy): a signature_verifications row with is_valid false.
    const signed = batches[0]![2]!;
    await pool.query(
      "INSERT INTO signature_verifications (message_id, is_valid, public_key) VALUES ($1, false, $2)",
      [signed.messageId, "11111111111111111111111111111111"],
    );
    const before = await pool.query(
      "SELECT message_id, batch_id, message_hash, raw_data::text, received_at, leaf_index FROM messages ORDER BY message_id",
    );

    await migrate(pool);
    const after = await pool.query(
      "SELECT message_id, batch_id, message_hash, raw_data::text, received_at, leaf_index FROM messages ORDER BY message_id",
    );
    expect(after.rows).toEqual(before.rows);
    const parts = await pool.query<{ part: string; n: number }>(
      "SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM messages GROUP BY 1 ORDER BY 1",
    );
    expect(parts.rows.map((r) => r.n)).toEqual([7, 5]);
    expect(parts.rows.every((r) => /^messages_p\d{8}$/.test(r.part))).toBe(true);
    const checks = await pool.query("SELECT message_id, is_valid FROM signature_verifications");
    expect(checks.rows).toEqual([{ message_id: signed.messageId, is_valid: false }]);
    await pool.end();

    const store = postgresStore({ connectionString: db.url });
    await store.open();
    const report = await store.verifyAll();
    expect(report.firstFailure).toBeNull();
    expect(report).toMatchObject({ ok: true, batches: 2, messages: 12 });
    for (const [i, batch] of written.entries()) {
      const proof = await store.getProof(batches[i]![1]!.messageId);
      expect(verifyInclusion(proof!, { root: batch.batchHash, treeSize: batch.messageCount })).toBe(true);
    }
    await store.close();
  });
});
