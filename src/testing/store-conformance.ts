import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpenBatch } from "../bridge/open-batch.js";
import { merkleRootHex, verifyInclusion } from "../hashing/index.js";
import type { Reading } from "../message/types.js";
import type { AppendRequest, Store } from "../stores/store.js";
import { makeReading, makeReadings, makeRejection, redeliver } from "./fixtures.js";

/** What {@link storeConformance} needs for each test: a store on an empty database of its own. */
export interface StoreHarness {
  /** An un-opened store over empty data. */
  readonly store: Store;
  /** A new, un-opened store instance over the same data (simulates a restart). */
  reopen(): Promise<Store>;
  /** Closes everything and removes the data. */
  dispose(): Promise<void>;
}

/**
 * Checks the batch invariant of `batchId` in `store`: leaves 0..n-1 without gaps,
 * `messageCount` = n and `batchHash` = Merkle root of the leaves in order.
 */
export async function expectBatchInvariant(
  store: Store,
  batchId: string,
  expectedHashes?: readonly string[],
): Promise<void> {
  const batch = await store.getBatch(batchId);
  expect(batch, `batch ${batchId} exists`).not.toBeNull();
  const leaves = await store.getBatchLeaves(batchId);
  expect(leaves.map((l) => l.leafIndex)).toEqual(leaves.map((_, i) => i));
  expect(batch!.messageCount).toBe(leaves.length);
  const hashes = leaves.map((l) => l.messageHash);
  expect(batch!.batchHash).toBe(merkleRootHex(hashes));
  if (expectedHashes) expect(hashes).toEqual(expectedHashes);
}

async function appendAndApply(store: Store, batch: OpenBatch, readings: readonly Reading[]) {
  const result = await store.append(batch.request(readings, []));
  if (result.plan) batch.apply(result.plan);
  return result;
}

/**
 * The contract every {@link Store} must meet (see the `Store` documentation), as a vitest suite.
 * Call it inside a test file with a factory giving each test a store over empty data.
 *
 * @example
 * ```ts
 * import { storeConformance } from "veep-bridge/testing";
 * storeConformance("my store", async () => {
 *   const db = await createEmptyDatabase();
 *   return { store: myStore(db), reopen: async () => myStore(db), dispose: () => db.drop() };
 * });
 * ```
 */
export function storeConformance(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`Store conformance: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;
    const extra: Store[] = [];

    beforeEach(async () => {
      harness = await makeHarness();
      store = harness.store;
      await store.open();
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
      await harness.dispose();
    });

    it("starts with no open batch", async () => {
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("writes each new reading once with contiguous leaf positions and the running root, at every commit", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(57);
      const all: string[] = [];
      for (const size of [1, 2, 13, 20, 21]) {
        const slice = readings.splice(0, size);
        const result = await appendAndApply(store, batch, slice);
        expect(result.duplicates).toHaveLength(0);
        expect(result.refused).toHaveLength(0);
        expect(result.plan?.leaves.map((l) => l.reading.messageId)).toEqual(slice.map((r) => r.messageId));
        all.push(...slice.map((r) => r.messageHash));
        await expectBatchInvariant(store, batch.batchId, all);
        const stored = await store.getBatch(batch.batchId);
        expect(stored?.status).toBe("pending");
        expect(stored?.batchHash).toBe(batch.batchHash);
      }
    });

    it("keeps the batch's time span from its first to its latest message", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(10, { start: new Date("2025-10-01T10:00:00Z") });
      await appendAndApply(store, batch, readings.slice(0, 5));
      await appendAndApply(store, batch, readings.slice(5));
      const stored = await store.getBatch(batch.batchId);
      expect(stored?.startTimestamp.getTime()).toBe(readings[0]!.receivedAt.getTime());
      expect(stored?.endTimestamp.getTime()).toBe(readings[9]!.receivedAt.getTime());
    });

    it("neither stores nor counts a redelivered message, within a batch or across batches", async () => {
      const first = new OpenBatch();
      const readings = makeReadings(10);
      await appendAndApply(store, first, readings);
      const again = await appendAndApply(store, first, redeliver(readings.slice(2, 5)));
      expect(again.plan).toBeNull();
      expect(again.duplicates.map((r) => r.messageHash)).toEqual(
        readings.slice(2, 5).map((r) => r.messageHash),
      );
      await expectBatchInvariant(
        store,
        first.batchId,
        readings.map((r) => r.messageHash),
      );
      await store.sealBatch({
        batchId: first.batchId,
        batchHash: first.batchHash,
        messageCount: first.messageCount,
      });

      const second = new OpenBatch();
      const fresh = makeReadings(3);
      const mixed = [fresh[0]!, ...redeliver(readings.slice(0, 2)), fresh[1]!, fresh[2]!];
      const result = await appendAndApply(store, second, mixed);
      expect(result.duplicates).toHaveLength(2);
      expect(result.plan?.leaves.map((l) => l.leafIndex)).toEqual([0, 1, 2]);
      await expectBatchInvariant(
        store,
        second.batchId,
        fresh.map((r) => r.messageHash),
      );
      expect((await store.getBatch(first.batchId))?.messageCount).toBe(10);
    });

    it("stores the same payload from two devices as two messages (a duplicate is per device)", async () => {
      const batch = new OpenBatch();
      const payload = { timestamp: 1_696_156_800, kwh: 1.5 };
      const a = makeReading("veep/factory1/line2/SENSOR_001/data", payload);
      const b = makeReading("veep/factory1/line2/SENSOR_002/data", payload);
      expect(a.messageHash).toBe(b.messageHash);
      const result = await appendAndApply(store, batch, [a, b]);
      expect(result.duplicates).toHaveLength(0);
      expect(result.plan?.leaves).toHaveLength(2);
      const again = await appendAndApply(store, batch, redeliver([b]));
      expect(again.duplicates).toHaveLength(1);
      await expectBatchInvariant(store, batch.batchId, [a.messageHash, b.messageHash]);
    });

    it("records rejections with their reason, topic and raw bytes in the same commit", async () => {
      const batch = new OpenBatch();
      const rejection = makeRejection("veep/factory1/line2/SENSOR_009/data", "[42]");
      const result = await store.append(batch.request(makeReadings(2), [rejection]));
      if (result.plan) batch.apply(result.plan);
      const letters = await store.listDeadLetters();
      expect(letters).toHaveLength(1);
      expect(letters[0]?.reason).toBe("not_an_object");
      expect(letters[0]?.topic).toBe("veep/factory1/line2/SENSOR_009/data");
      expect(Buffer.from(letters[0]!.payload).toString("utf8")).toBe("[42]");
      expect(typeof letters[0]?.id).toBe("string");
    });

    it("records rejections even when no reading comes with them", async () => {
      const batch = new OpenBatch();
      const result = await store.append(batch.request([], [makeRejection(), makeRejection()]));
      expect(result.plan).toBeNull();
      expect(await store.listDeadLetters()).toHaveLength(2);
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("writes nothing when an append fails midway (atomic)", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(4));
      const failing: AppendRequest = {
        ...batch.request(makeReadings(3), [makeRejection()]),
        plan: () => {
          throw new Error("planned failure");
        },
      };
      await expect(store.append(failing)).rejects.toThrow();
      await expectBatchInvariant(store, batch.batchId);
      expect((await store.getBatch(batch.batchId))?.messageCount).toBe(4);
      expect(await store.listDeadLetters()).toHaveLength(0);
      await appendAndApply(store, batch, makeReadings(2));
      await expectBatchInvariant(store, batch.batchId);
    });

    it("seals a batch as complete only with its stored root and count", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(5));
      await expect(
        store.sealBatch({ batchId: batch.batchId, batchHash: "00".repeat(32), messageCount: 5 }),
      ).rejects.toThrow();
      await expect(
        store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 4 }),
      ).rejects.toThrow();
      const sealed = await store.sealBatch({
        batchId: batch.batchId,
        batchHash: batch.batchHash,
        messageCount: 5,
      });
      expect(sealed.status).toBe("complete");
      expect((await store.getBatch(batch.batchId))?.status).toBe("complete");
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("refuses to append to a sealed batch", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(2));
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 2 });
      await expect(store.append(batch.request(makeReadings(1), []))).rejects.toThrow();
      expect((await store.getBatch(batch.batchId))?.messageCount).toBe(2);
    });

    it("hands the open batch with its leaves in order to a fresh instance (resume)", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(25);
      await appendAndApply(store, batch, readings.slice(0, 10));
      await appendAndApply(store, batch, readings.slice(10));
      await store.close();
      const reopened = await harness.reopen();
      extra.push(reopened);
      await reopened.open();
      const snapshot = await reopened.loadOpenBatch();
      expect(snapshot?.batchId).toBe(batch.batchId);
      expect(snapshot?.status).toBe("pending");
      expect(snapshot?.messageCount).toBe(25);
      expect(snapshot?.batchHash).toBe(batch.batchHash);
      expect(snapshot?.leaves).toEqual(readings.map((r) => r.messageHash));
      const resumed = OpenBatch.fromSnapshot(snapshot!);
      expect(resumed.batchHash).toBe(snapshot!.batchHash);
      const more = makeReadings(5);
      await appendAndApply(reopened, resumed, [...redeliver(readings.slice(20)), ...more]);
      await expectBatchInvariant(
        reopened,
        batch.batchId,
        [...readings, ...more].map((r) => r.messageHash),
      );
      store = reopened;
      extra.pop();
    });

    it("marks a batch failed so that it is no longer resumed", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(3));
      await store.failBatch(batch.batchId, "stored root does not match its leaves");
      expect((await store.getBatch(batch.batchId))?.status).toBe("failed");
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("returns inclusion proofs that verify against the stored root for every message", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(13);
      await appendAndApply(store, batch, readings.slice(0, 6));
      await appendAndApply(store, batch, readings.slice(6));
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 13 });
      for (const [index, reading] of readings.entries()) {
        const proof = await store.getProof(reading.messageId);
        expect(proof?.leafIndex).toBe(index);
        expect(proof?.treeSize).toBe(13);
        expect(proof?.messageHash).toBe(reading.messageHash);
        expect(proof?.batchId).toBe(batch.batchId);
        expect(proof?.batchStatus).toBe("complete");
        expect(proof?.root).toBe(batch.batchHash);
        expect(verifyInclusion(proof!, { root: batch.batchHash })).toBe(true);
      }
      expect(await store.getProof("00000000-0000-4000-8000-000000000000")).toBeNull();
    });

    it("keeps the batch invariant over many appends of random sizes with duplicates mixed in", async () => {
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed % n;
      };
      const batch = new OpenBatch();
      const stored: Reading[] = [];
      for (let round = 0; round < 12; round++) {
        const fresh = makeReadings(1 + random(30));
        const replays = stored.length > 0 ? redeliver([stored[random(stored.length)]!]) : [];
        const result = await appendAndApply(store, batch, [...replays, ...fresh]);
        expect(result.duplicates).toHaveLength(replays.length);
        stored.push(...fresh);
        await expectBatchInvariant(
          store,
          batch.batchId,
          stored.map((r) => r.messageHash),
        );
      }
    });

    it("refuses to seal an unknown batch", async () => {
      await expect(
        store.sealBatch({
          batchId: "00000000-0000-4000-8000-000000000001",
          batchHash: "00".repeat(32),
          messageCount: 1,
        }),
      ).rejects.toThrow();
    });

    it("refuses a plan that does not continue the stored leaves, writing nothing", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(3));
      const stale = new OpenBatch({ batchId: batch.batchId });
      await expect(store.append(stale.request(makeReadings(2), [makeRejection()]))).rejects.toThrow();
      await expectBatchInvariant(store, batch.batchId);
      expect((await store.getBatch(batch.batchId))?.messageCount).toBe(3);
      expect(await store.listDeadLetters()).toHaveLength(0);
    });

    it("lists dead letters most recent first, honouring the limit", async () => {
      const batch = new OpenBatch();
      const payloads = ["[1]", "[2]", "[3]"];
      for (const payload of payloads) {
        await store.append(batch.request([], [makeRejection(undefined, payload)]));
      }
      const all = await store.listDeadLetters();
      expect(all.map((d) => Buffer.from(d.payload).toString("utf8"))).toEqual(["[3]", "[2]", "[1]"]);
      const two = await store.listDeadLetters({ limit: 2 });
      expect(two.map((d) => Buffer.from(d.payload).toString("utf8"))).toEqual(["[3]", "[2]"]);
    });

    it("gives provisional proofs against the running root of a pending batch", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(7);
      await appendAndApply(store, batch, readings);
      const proof = await store.getProof(readings[4]!.messageId);
      expect(proof?.batchStatus).toBe("pending");
      expect(proof?.root).toBe(batch.batchHash);
      expect(proof?.algorithm).toBe("sha256");
      expect(verifyInclusion(proof!, { root: batch.batchHash, treeSize: 7 })).toBe(true);
    });

    it("closes idempotently", async () => {
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
