import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Page,
  type PageOptions,
  type PgPoolLike,
  type PgQueryConfig,
  postgresStore,
} from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

describe("PostgresStore: the read queries on real data", () => {
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

  it("getBatchDetails: the batch with its actual message count; null when unknown", async () => {
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

  /** Every item of a list, read page by page with `limit`, and the number of pages. */
  async function readAll<T>(
    read: (options: PageOptions) => Promise<Page<T>>,
    limit: number,
  ): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let pages = 0;
    let after: string | undefined;
    for (;;) {
      const page = await read({ limit, ...(after === undefined ? {} : { after }) });
      pages++;
      items.push(...page.items);
      if (page.nextCursor === null) return { items, pages };
      after = page.nextCursor;
    }
  }

  it("getBatchMessages: oldest first, in keyset pages", async () => {
    const all = (await fx.store.getBatchMessages(open.batchId)).items;
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
    const first = await fx.store.getBatchMessages(open.batchId, { limit: 3 });
    expect(first.items.map((m) => m.messageId)).toEqual(expected.slice(0, 3).map((r) => r.messageId));
    const second = await fx.store.getBatchMessages(open.batchId, { limit: 3, after: first.nextCursor! });
    expect(second.items.map((m) => m.messageId)).toEqual(expected.slice(3, 6).map((r) => r.messageId));
    const paged = await readAll((o) => fx.store.getBatchMessages(open.batchId, o), 4);
    expect(paged.items.map((m) => m.messageId)).toEqual(expected.map((r) => r.messageId));
    expect(paged.pages).toBe(Math.ceil(expected.length / 4));
    expect((await fx.store.getBatchMessages(open.batchId, { limit: expected.length })).nextCursor).toBeNull();
  });

  it("refuses a cursor of another list or a limit out of range, with an InvalidOptionError", async () => {
    const { nextCursor } = await fx.store.getRecentBatches({ limit: 1 });
    expect(nextCursor).not.toBeNull();
    await expect(
      fx.store.getBatchMessages(open.batchId, { after: "bm90IGEgY3Vyc29y" }),
    ).rejects.toMatchObject({
      code: "INVALID_OPTION",
    });
    await expect(
      fx.store.searchDeviceMessages("SENSOR_001", { from: new Date(0), to: new Date() }, { limit: 0 }),
    ).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });

  it("getMessageBatch: a message's hash with its batch's hash and status", async () => {
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

  it("getDeviceStatistics: a tenant's devices, last seen first, with 24-hour counts as numbers", async () => {
    const stats = (await fx.store.getDeviceStatistics("factory1")).items;
    expect(stats.map((s) => s.deviceId)).toEqual(["SENSOR_003", "SENSOR_002", "SENSOR_001"]);
    const paged = await readAll((o) => fx.store.getDeviceStatistics("factory1", o), 1);
    expect(paged.items).toEqual(stats);
    expect(paged.pages).toBe(3);
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
    expect((await fx.store.getDeviceStatistics("factory9")).items).toHaveLength(1);
    expect(await fx.store.getDeviceStatistics("nobody")).toEqual({ items: [], nextCursor: null });
  });

  it("searchDeviceMessages: a device's messages in a time range, newest first", async () => {
    const device = oldReadings.filter((r) => r.deviceId === "SENSOR_001");
    const found = (
      await fx.store.searchDeviceMessages("SENSOR_001", {
        from: device[0]!.receivedAt,
        to: device[2]!.receivedAt,
      })
    ).items;
    expect(found.map((m) => m.messageId)).toEqual([...device].reverse().map((r) => r.messageId));
    expect(found[0]).toEqual({
      messageId: device[2]!.messageId,
      batchId: sealed.batchId,
      messageHash: device[2]!.messageHash,
      rawData: device[2]!.payload,
      receivedAt: device[2]!.receivedAt,
    });
    const range = { from: new Date(0), to: new Date() };
    const limited = await fx.store.searchDeviceMessages("SENSOR_001", range, { limit: 2 });
    expect(limited.items).toHaveLength(2);
    const everything = (await fx.store.searchDeviceMessages("SENSOR_001", range)).items;
    const paged = await readAll((o) => fx.store.searchDeviceMessages("SENSOR_001", range, o), 2);
    expect(paged.items).toEqual(everything);
    expect(everything.length).toBeGreaterThan(2);
  });

  it("getRecentBatches: most recently created first", async () => {
    const recent = (await fx.store.getRecentBatches()).items;
    expect(recent.map((b) => b.batchId)).toEqual([open.batchId, sealed.batchId]);
    expect(recent[0]).toMatchObject({ status: "pending", messageCount: 11, batchHash: open.batchHash });
    expect(recent[0]?.createdAt).toBeInstanceOf(Date);
    expect((await fx.store.getRecentBatches({ limit: 1 })).items).toHaveLength(1);
    expect((await readAll((o) => fx.store.getRecentBatches(o), 1)).items).toEqual(recent);
  });

  it("getPendingBatches: pending batches with their age in milliseconds", async () => {
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

  it("runs every one of these queries as a named prepared statement (observed through a user-supplied pool)", async () => {
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
    await store.searchDeviceMessages("SENSOR_001", { from: new Date(0), to: new Date() });
    await store.getRecentBatches();
    await store.getPendingBatches();
    expect(seen.map((q) => q.name)).toEqual([
      "veep_q51_batch_details",
      "veep_q52_batch_messages",
      "veep_q53_message_batch_at",
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
