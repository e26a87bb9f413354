import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchFailedEvent, createBridge } from "../../src/index.js";
import { memorySource } from "../../src/memory.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { expectBatchInvariant, seedPayload } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

const topic = (device: string): string => `veep/factory1/line2/${device}/data`;

describe("bridge on PostgreSQL across restarts", () => {
  let db: TestDatabase;
  let sql: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase("vbresume");
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  async function runOnce(count: number, from: number, owner?: string, device = "SENSOR_001", url = db.url) {
    const source = memorySource();
    const bridge = createBridge({
      source,
      store: postgresStore({ connectionString: url }),
      ...(owner !== undefined ? { batch: { owner } } : {}),
    });
    const opened: Array<{ batchId: string; resumed: boolean }> = [];
    const failed: BatchFailedEvent[] = [];
    bridge.on("batch:opened", (b) => opened.push({ batchId: b.batchId, resumed: b.resumed }));
    bridge.on("batch:failed", (b) => failed.push(b));
    bridge.on("error", () => undefined);
    await bridge.start();
    for (let i = from; i < from + count; i++) source.publish(topic(device), seedPayload(device, i));
    await source.whenAllAcknowledged();
    const openBatchId = bridge.stats().openBatchId;
    await bridge.stop();
    return { opened, failed, openBatchId };
  }

  it("continues the pending batch after a restart", async () => {
    const first = await runOnce(12, 0);
    const second = await runOnce(8, 100);
    expect(second.opened[0]).toEqual({ batchId: first.openBatchId, resumed: true });
    expect(second.openBatchId).toBe(first.openBatchId);
    const { rows } = await sql.query("SELECT message_count, status FROM batches WHERE batch_id = $1", [
      first.openBatchId,
    ]);
    expect(rows[0]).toEqual({ message_count: 20, status: "pending" });
    const store = postgresStore({ connectionString: db.url });
    await store.open();
    await expectBatchInvariant(store, first.openBatchId!);
    await store.close();
  });

  it("gives each of two bridges on one database its own pending batch back when both restart at once", async () => {
    // A database of its own: a pending batch of no owner (left by another test) would be claimed.
    const own = await createTestDatabase("vbowners");
    try {
      const run = (count: number, from: number, owner: string, device: string) =>
        runOnce(count, from, owner, device, own.url);
      const [a, b] = await Promise.all([
        run(6, 400, "bridge-a", "SENSOR_00A"),
        run(9, 400, "bridge-b", "SENSOR_00B"),
      ]);
      expect(a.openBatchId).not.toBe(b.openBatchId);
      const [a2, b2] = await Promise.all([
        run(4, 500, "bridge-a", "SENSOR_00A"),
        run(2, 500, "bridge-b", "SENSOR_00B"),
      ]);
      expect(a2.opened[0]).toEqual({ batchId: a.openBatchId, resumed: true });
      expect(b2.opened[0]).toEqual({ batchId: b.openBatchId, resumed: true });
      expect([...a2.failed, ...b2.failed]).toEqual([]);
      const check = new pg.Client({ connectionString: own.url });
      await check.connect();
      const { rows } = await check.query("SELECT owner, message_count, status FROM batches ORDER BY owner");
      await check.end();
      expect(rows).toEqual([
        { owner: "bridge-a", message_count: 10, status: "pending" },
        { owner: "bridge-b", message_count: 11, status: "pending" },
      ]);
    } finally {
      await own.drop();
    }
  });

  it("marks a tampered pending batch failed on start, keeps the reason, and opens a new batch", async () => {
    const before = await runOnce(5, 200);
    const tamperedId = before.openBatchId!;
    await sql.query("UPDATE batches SET batch_hash = $2 WHERE batch_id = $1", [tamperedId, "ab".repeat(32)]);
    const after = await runOnce(3, 300);
    expect(after.failed.map((f) => f.batchId)).toEqual([tamperedId]);
    expect(after.failed[0]?.reason).toMatch(/batch_hash/);
    const { rows } = await sql.query("SELECT status, failure_reason FROM batches WHERE batch_id = $1", [
      tamperedId,
    ]);
    expect(rows[0].status).toBe("failed");
    expect(rows[0].failure_reason).toMatch(/batch_hash/);
    expect(after.openBatchId).toBeDefined();
    expect(after.openBatchId).not.toBe(tamperedId);
    expect(after.opened).toEqual([{ batchId: after.openBatchId, resumed: false }]);
  });
});
