import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchFailedEvent, createBridge, memorySource } from "../../src/index.js";
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

  async function runOnce(count: number, from: number) {
    const source = memorySource();
    const bridge = createBridge({ source, store: postgresStore({ connectionString: db.url }) });
    const opened: Array<{ batchId: string; resumed: boolean }> = [];
    const failed: BatchFailedEvent[] = [];
    bridge.on("batch:opened", (b) => opened.push({ batchId: b.batchId, resumed: b.resumed }));
    bridge.on("batch:failed", (b) => failed.push(b));
    bridge.on("error", () => undefined);
    await bridge.start();
    for (let i = from; i < from + count; i++)
      source.publish(topic("SENSOR_001"), seedPayload("SENSOR_001", i));
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
