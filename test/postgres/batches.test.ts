import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BatchIntegrityError, StoreError } from "../../src/errors.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { expectBatchInvariant, makeReadings, redeliver } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

describe("PostgresStore batches: seal, fail, resume", () => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });
  beforeEach(async () => {
    await fx.sql.query("UPDATE batches SET status = 'complete' WHERE status = 'pending'");
  });

  it("seals in one statement only when root and count match, and only a pending batch", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(10));
    const seal = { batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 10 };
    await expect(fx.store.sealBatch({ ...seal, batchHash: "ff".repeat(32) })).rejects.toBeInstanceOf(
      BatchIntegrityError,
    );
    await expect(fx.store.sealBatch({ ...seal, messageCount: 11 })).rejects.toBeInstanceOf(
      BatchIntegrityError,
    );
    const sealed = await fx.store.sealBatch(seal);
    expect(sealed).toMatchObject({
      batchId: batch.batchId,
      status: "complete",
      messageCount: 10,
      batchHash: batch.batchHash,
    });
    expect(sealed.startTimestamp).toBeInstanceOf(Date);
    await expect(fx.store.sealBatch(seal)).rejects.toThrow(/it is complete/);
    await expect(
      fx.store.sealBatch({ ...seal, batchId: "00000000-0000-4000-8000-000000000001" }),
    ).rejects.toBeInstanceOf(StoreError);
  });

  it("marks a batch failed and keeps the reason", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(3));
    await fx.store.failBatch(batch.batchId, "stored root does not match its leaves");
    expect((await fx.store.getBatch(batch.batchId))?.status).toBe("failed");
    expect(await fx.store.getBatchFailureReason(batch.batchId)).toBe("stored root does not match its leaves");
    await expect(fx.store.failBatch("00000000-0000-4000-8000-000000000002", "x")).rejects.toBeInstanceOf(
      StoreError,
    );
  });

  it("resumes on a fresh instance: the open batch with its leaves in order, continued without gaps", async () => {
    const batch = new OpenBatch();
    const readings = makeReadings(30);
    await appendTo(fx.store, batch, readings.slice(0, 17));
    await appendTo(fx.store, batch, readings.slice(17));
    const fresh = postgresStore({ connectionString: fx.db.url });
    try {
      await fresh.open();
      const snapshot = await fresh.loadOpenBatch();
      expect(snapshot).toMatchObject({ batchId: batch.batchId, status: "pending", messageCount: 30 });
      expect(snapshot?.leaves).toEqual(readings.map((r) => r.messageHash));
      const resumed = OpenBatch.fromSnapshot(snapshot!);
      expect(resumed.batchHash).toBe(snapshot?.batchHash);
      const more = makeReadings(4);
      const result = await appendTo(fresh, resumed, [...redeliver(readings.slice(-3)), ...more]);
      expect(result.plan?.leaves.map((l) => l.leafIndex)).toEqual([30, 31, 32, 33]);
      await expectBatchInvariant(
        fresh,
        batch.batchId,
        [...readings, ...more].map((r) => r.messageHash),
      );
      await fresh.sealBatch({ batchId: batch.batchId, batchHash: resumed.batchHash, messageCount: 34 });
      expect(await fresh.loadOpenBatch()).toBeNull();
    } finally {
      await fresh.close();
    }
  });

  it("lets the bridge detect a tampered open batch on resume and fail it, so a new batch opens", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(5));
    await fx.sql.query("UPDATE batches SET batch_hash = $2 WHERE batch_id = $1", [
      batch.batchId,
      "0".repeat(64),
    ]);
    const snapshot = await fx.store.loadOpenBatch();
    expect(OpenBatch.fromSnapshot(snapshot!).batchHash).not.toBe(snapshot?.batchHash);
    await fx.store.failBatch(batch.batchId, "stored root does not match its leaves");
    expect(await fx.store.loadOpenBatch()).toBeNull();
  });

  it("with several pending batches, hands out the oldest first", async () => {
    const older = new OpenBatch();
    const newer = new OpenBatch();
    await appendTo(fx.store, older, makeReadings(2, { start: new Date("2025-10-01T10:00:00Z") }));
    await appendTo(fx.store, newer, makeReadings(2, { start: new Date("2025-10-01T11:00:00Z") }));
    expect((await fx.store.loadOpenBatch())?.batchId).toBe(older.batchId);
    await fx.store.sealBatch({ batchId: older.batchId, batchHash: older.batchHash, messageCount: 2 });
    expect((await fx.store.loadOpenBatch())?.batchId).toBe(newer.batchId);
  });

  it("refuses a plan that does not continue the stored leaves (stale open batch), writing nothing", async () => {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(5));
    const stale = new OpenBatch({ batchId: batch.batchId });
    const error = await fx.store.append(stale.request(makeReadings(2), [])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchIntegrityError);
    expect((error as BatchIntegrityError).batchId).toBe(batch.batchId);
    await expectBatchInvariant(fx.store, batch.batchId);
    expect((await fx.store.getBatch(batch.batchId))?.messageCount).toBe(5);
    const more = await appendTo(fx.store, batch, makeReadings(1));
    expect(more.plan?.leaves[0]?.leafIndex).toBe(5);
  });

  it("returns leaves in leaf order and null for unknown batches", async () => {
    const batch = new OpenBatch();
    const readings = makeReadings(7);
    await appendTo(fx.store, batch, readings);
    const leaves = await fx.store.getBatchLeaves(batch.batchId);
    expect(leaves).toEqual(
      readings.map((r, i) => ({ messageId: r.messageId, leafIndex: i, messageHash: r.messageHash })),
    );
    expect(await fx.store.getBatch("00000000-0000-4000-8000-000000000003")).toBeNull();
  });

  it("fails with LifecycleError after close, and close is idempotent", async () => {
    const store = postgresStore({ connectionString: fx.db.url });
    await expect(store.listDeadLetters({ limit: -1 })).rejects.toMatchObject({
      code: "INVALID_OPTION",
      option: "limit",
    });
    await store.close();
    await store.close();
    await expect(store.getBatch("00000000-0000-4000-8000-000000000003")).rejects.toMatchObject({
      code: "STOPPED",
    });
    await expect(store.append(new OpenBatch().request(makeReadings(1), []))).rejects.toMatchObject({
      code: "STOPPED",
    });
    await expect(store.listDeadLetters()).rejects.toMatchObject({ code: "STOPPED" });
  });
});
