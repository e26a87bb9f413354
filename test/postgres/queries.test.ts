import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgPoolLike, type PgQueryConfig, postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

describe("PostgresStore: the seed's queries §5.1–5.7 on real data", () => {
  let fx: PgFixture;
  const now = Date.now();
  const sealed = new OpenBatch();
  const open = new OpenBatch();
  const oldReadings = makeReadings(6, {
    start: new Date(now - 3 * 86_400_000),
    devices: ["SENSOR_001", "SENSOR_002"],
  });
  const recentReadings = makeReadings(9, { start: new Date(now - 60_000) });
  const otherTenant = makeReadings(2, {
    tenantId: "factory9",
    devices: ["SENSOR_900"],
    start: new Date(now - 30_000),
  });

  beforeAll(async () => {
    fx = await pgFixture();
    await appendTo(fx.store, sealed, oldReadings);
    await fx.store.sealBatch({ batchId: sealed.batchId, batchHash: sealed.batchHash, messageCount: 6 });
    await appendTo(fx.store, open, recentReadings.slice(0, 5));
    await appendTo(fx.store, open, [...recentReadings.slice(5), ...otherTenant]);
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("5.1 getBatchDetails: the batch with its actual message count; null when unknown", async () => {
    const details = await fx.store.getBatchDetails(sealed.batchId);
    expect(details).toEqual({
      batchId: sealed.batchId,
      batchHash: sealed.batchHash,
      messageCount: 6,
      startTimestamp: oldReadings[0]!.receivedAt,
      endTimestamp: oldReadings[5]!.receivedAt,
      status: "complete",
      actualMessageCount: 6,
    });
    expect(await fx.store.getBatchDetails("00000000-0000-4000-8000-000000000000")).toBeNull();
    expect(await fx.store.getBatchDetails("not-a-uuid")).toBeNull();
  });

  it("5.2 getBatchMessages: oldest first, paged with limit and offset", async () => {
    const all = await fx.store.getBatchMessages(open.batchId);
    const expected = [...recentReadings, ...otherTenant].sort(
      (a, b) => a.receivedAt.getTime() - b.receivedAt.getTime(),
    );
    expect(all.map((m) => m.messageId)).toEqual(expected.map((r) => r.messageId));
    expect(all[0]).toEqual({
      messageId: expected[0]!.messageId,
      deviceId: expected[0]!.deviceId,
      topic: expected[0]!.topic,
      messageHash: expected[0]!.messageHash,
      rawData: expected[0]!.payload,
      receivedAt: expected[0]!.receivedAt,
    });
    const page = await fx.store.getBatchMessages(open.batchId, { limit: 3, offset: 2 });
    expect(page.map((m) => m.messageId)).toEqual(expected.slice(2, 5).map((r) => r.messageId));
  });

  it("5.3 getMessageBatch: a message's hash with its batch's hash and status", async () => {
    const reading = oldReadings[3]!;
    expect(await fx.store.getMessageBatch(reading.messageId)).toEqual({
      messageId: reading.messageId,
      messageHash: reading.messageHash,
      batchId: sealed.batchId,
      batchHash: sealed.batchHash,
      status: "complete",
    });
    expect(await fx.store.getMessageBatch("00000000-0000-4000-8000-000000000000")).toBeNull();
  });

  it("5.4 getDeviceStatistics: a tenant's devices, last seen first, with 24-hour counts as numbers", async () => {
    const stats = await fx.store.getDeviceStatistics("factory1");
    expect(stats.map((s) => s.deviceId)).toEqual(["SENSOR_003", "SENSOR_002", "SENSOR_001"]);
    const byId = Object.fromEntries(stats.map((s) => [s.deviceId, s]));
    expect(byId.SENSOR_001).toMatchObject({
      tenantId: "factory1",
      siteId: "line2",
      messageCount: 6,
      messagesLast24h: 3,
    });
    expect(byId.SENSOR_002).toMatchObject({ messageCount: 6, messagesLast24h: 3 });
    expect(byId.SENSOR_003).toMatchObject({ messageCount: 3, messagesLast24h: 3 });
    expect(byId.SENSOR_003?.lastSeen).toEqual(recentReadings[8]!.receivedAt);
    expect(typeof byId.SENSOR_001?.messageCount).toBe("number");
    expect(await fx.store.getDeviceStatistics("factory9")).toHaveLength(1);
    expect(await fx.store.getDeviceStatistics("nobody")).toEqual([]);
  });

  it("5.5 searchDeviceMessages: a device's messages in a time range, newest first", async () => {
    const device = oldReadings.filter((r) => r.deviceId === "SENSOR_001");
    const found = await fx.store.searchDeviceMessages(
      "SENSOR_001",
      device[0]!.receivedAt,
      device[2]!.receivedAt,
    );
    expect(found.map((m) => m.messageId)).toEqual([...device].reverse().map((r) => r.messageId));
    expect(found[0]).toEqual({
      messageId: device[2]!.messageId,
      batchId: sealed.batchId,
      messageHash: device[2]!.messageHash,
      rawData: device[2]!.payload,
      receivedAt: device[2]!.receivedAt,
    });
    const limited = await fx.store.searchDeviceMessages("SENSOR_001", new Date(0), new Date(), { limit: 2 });
    expect(limited).toHaveLength(2);
  });

  it("5.6 getRecentBatches: most recently created first", async () => {
    const recent = await fx.store.getRecentBatches();
    expect(recent.map((b) => b.batchId)).toEqual([open.batchId, sealed.batchId]);
    expect(recent[0]).toMatchObject({ status: "pending", messageCount: 11, batchHash: open.batchHash });
    expect(recent[0]?.createdAt).toBeInstanceOf(Date);
    expect(await fx.store.getRecentBatches({ limit: 1 })).toHaveLength(1);
  });

  it("5.7 getPendingBatches: pending batches with their age in milliseconds", async () => {
    const pending = await fx.store.getPendingBatches();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      batchId: open.batchId,
      messageCount: 11,
      startTimestamp: recentReadings[0]!.receivedAt,
    });
    expect(pending[0]!.ageMs).toBeGreaterThanOrEqual(59_000);
    expect(pending[0]!.ageMs).toBeLessThan(600_000);
  });

  it("runs every seed query as a named prepared statement (observed through a user-supplied pool)", async () => {
    const pool = new pg.Pool({ connectionString: fx.db.url, max: 2 });
    const seen: PgQueryConfig[] = [];
    const observed: PgPoolLike = {
      query: (config) => {
        seen.push(config);
        return pool.query(config as pg.QueryConfig) as never;
      },
      connect: () => pool.connect() as never,
      end: () => pool.end(),
    };
    const store = postgresStore({ pool: observed });
    await store.getBatchDetails(sealed.batchId);
    await store.getBatchMessages(sealed.batchId);
    await store.getMessageBatch(oldReadings[0]!.messageId);
    await store.getDeviceStatistics("factory1");
    await store.searchDeviceMessages("SENSOR_001", new Date(0), new Date());
    await store.getRecentBatches();
    await store.getPendingBatches();
    expect(seen.map((q) => q.name)).toEqual([
      "veep_q51_batch_details",
      "veep_q52_batch_messages",
      "veep_q53_message_batch",
      "veep_q54_device_statistics",
      "veep_q55_device_messages",
      "veep_q56_recent_batches",
      "veep_q57_pending_batches",
    ]);
    expect(seen.every((q) => q.text.includes("$") || q.name === "veep_q57_pending_batches")).toBe(true);
    await store.close();
    expect(await pool.query("SELECT 1 AS n")).toMatchObject({ rows: [{ n: 1 }] });
    await pool.end();
  });
});
