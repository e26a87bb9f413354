import { afterEach, beforeEach, describe, expect, it, type TestContext } from "vitest";
import { planAggregate } from "../anchoring/aggregate.js";
import { anchorMemo, memoMismatch } from "../anchoring/memo.js";
import { type AnchorLedger, isAnchorLedger } from "../anchoring/types.js";
import { OpenBatch } from "../bridge/open-batch.js";
import { merkleRootHex, verifyInclusion } from "../hashing/index.js";
import type { Reading } from "../message/types.js";
import { guardStore } from "../stores/guard-store.js";
import type { AppendRequest, AuditReader, Store } from "../stores/store.js";
import { expectCode } from "./expect-code.js";
import { makeReading, makeReadings, makeRejection, redeliver } from "./fixtures.js";

/** A store as {@link storeConformance} checks it: the write path, read back through its audit reads. */
export type AuditedStore = Store & AuditReader;

/** What {@link storeConformance} needs for each test: a store on an empty database of its own. */
export interface StoreHarness {
  /** An un-opened store over empty data. */
  readonly store: AuditedStore;
  /** A new, un-opened store instance over the same data (simulates a restart). */
  reopen(): Promise<AuditedStore>;
  /** Closes everything and removes the data. */
  dispose(): Promise<void>;
}

/** `true` when `error` is `target` or has it somewhere in its `cause` chain. */
function causedBy(error: unknown, target: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 10; depth++) {
    if (e === target) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/**
 * Checks the batch invariant of `batchId` in `store`: leaves 0..n-1 without gaps,
 * `messageCount` = n and `batchHash` = Merkle root of the leaves in order.
 */
export async function expectBatchInvariant(
  store: AuditReader,
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
    let store: AuditedStore;
    const extra: AuditedStore[] = [];

    beforeEach(async () => {
      harness = await makeHarness();
      store = guardStore(harness.store);
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
      const result = await store.append(
        batch.request([], [makeRejection(), makeRejection(undefined, "[4]")]),
      );
      expect(result.plan).toBeNull();
      expect(await store.listDeadLetters()).toHaveLength(2);
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("records a redelivered rejection once per device, and the same bytes from another device again", async () => {
      const batch = new OpenBatch();
      const first = makeRejection("veep/factory1/line2/SENSOR_001/data", "[7]");
      await store.append(batch.request([], [first]));
      await store.append(batch.request([], [{ ...first, receivedAt: new Date() }]));
      await store.append(batch.request([], [makeRejection("veep/factory1/line2/SENSOR_002/data", "[7]")]));
      const letters = await store.listDeadLetters();
      expect(letters.map((d) => d.topic)).toEqual([
        "veep/factory1/line2/SENSOR_002/data",
        "veep/factory1/line2/SENSOR_001/data",
      ]);
      const unmatched = makeRejection("not/the/pattern", "{}");
      await store.append(batch.request([], [unmatched, { ...unmatched }]));
      expect(await store.listDeadLetters()).toHaveLength(3);
    });

    it("writes nothing when an append fails midway (atomic)", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(4));
      const planned = new Error("planned failure");
      const failing: AppendRequest = {
        ...batch.request(makeReadings(3), [makeRejection()]),
        plan: () => {
          throw planned;
        },
      };
      const error = await store.append(failing).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(causedBy(error, planned), "the append rejects with the plan's error (or one caused by it)").toBe(
        true,
      );
      await expectBatchInvariant(store, batch.batchId);
      expect((await store.getBatch(batch.batchId))?.messageCount).toBe(4);
      expect(await store.listDeadLetters()).toHaveLength(0);
      await appendAndApply(store, batch, makeReadings(2));
      await expectBatchInvariant(store, batch.batchId);
    });

    it("seals a batch as complete only with its stored root and count", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(5));
      await expectCode(
        store.sealBatch({ batchId: batch.batchId, batchHash: "00".repeat(32), messageCount: 5 }),
        "BATCH_INTEGRITY",
      );
      await expectCode(
        store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 4 }),
        "BATCH_INTEGRITY",
      );
      const sealed = await store.sealBatch({
        batchId: batch.batchId,
        batchHash: batch.batchHash,
        messageCount: 5,
      });
      expect(sealed.status).toBe("complete");
      expect((await store.getBatch(batch.batchId))?.status).toBe("complete");
      expect(await store.loadOpenBatch()).toBeNull();
    });

    it("seals in the same commit when an append reaches sealAt, if it supports sealAt, and never before", async () => {
      const batch = new OpenBatch();
      const first = await store.append(batch.request(makeReadings(3), [], 5));
      expect(first.sealed ?? false, "3 of 5: not sealed").toBe(false);
      if (first.plan) batch.apply(first.plan);
      expect((await store.getBatch(batch.batchId))?.status).toBe("pending");
      const second = await store.append(batch.request(makeReadings(2), [], 5));
      if (second.plan) batch.apply(second.plan);
      const stored = await store.getBatch(batch.batchId);
      if (second.sealed) {
        expect(stored?.status).toBe("complete");
        expect(stored?.batchHash).toBe(batch.batchHash);
        expect(await store.loadOpenBatch()).toBeNull();
      } else {
        expect(stored?.status, "a store that ignores sealAt leaves the batch pending").toBe("pending");
      }
      await expectBatchInvariant(store, batch.batchId);
    });

    it("refuses to append to a sealed batch", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(2));
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 2 });
      await expectCode(store.append(batch.request(makeReadings(1), [])), "STORE_ERROR");
      expect((await store.getBatch(batch.batchId))?.messageCount).toBe(2);
    });

    it("hands the open batch with its leaves in order to a fresh instance (resume)", async () => {
      const batch = new OpenBatch();
      const readings = makeReadings(25);
      await appendAndApply(store, batch, readings.slice(0, 10));
      await appendAndApply(store, batch, readings.slice(10));
      await store.close();
      const reopened = guardStore(await harness.reopen());
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

    it("gives each owner its own open batch back, and lets only one owner claim a batch of none", async () => {
      const a = new OpenBatch({ owner: "bridge-a" });
      const b = new OpenBatch({ owner: "bridge-b" });
      const unowned = new OpenBatch();
      await appendAndApply(store, unowned, makeReadings(2));
      await appendAndApply(store, a, makeReadings(3));
      await appendAndApply(store, b, makeReadings(4));
      await store.close();
      const reopened = guardStore(await harness.reopen());
      extra.push(reopened);
      await reopened.open();
      expect((await reopened.loadOpenBatch("bridge-b"))?.batchId).toBe(b.batchId);
      expect((await reopened.loadOpenBatch("bridge-a"))?.batchId).toBe(a.batchId);
      expect((await reopened.loadOpenBatch())?.batchId).toBe(unowned.batchId);
      const claims = await Promise.all([
        reopened.loadOpenBatch("bridge-c"),
        reopened.loadOpenBatch("bridge-d"),
      ]);
      const claimed = claims.filter((snapshot) => snapshot !== null);
      expect(claimed.map((snapshot) => snapshot.batchId)).toEqual([unowned.batchId]);
      const winner = claims[0] ? "bridge-c" : "bridge-d";
      const loser = claims[0] ? "bridge-d" : "bridge-c";
      expect((await reopened.loadOpenBatch(winner))?.messageCount).toBe(2);
      expect(await reopened.loadOpenBatch(loser)).toBeNull();
      expect(await reopened.loadOpenBatch()).toBeNull();
      expect((await reopened.loadOpenBatch("bridge-a"))?.messageCount).toBe(3);
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
      await expectCode(
        store.sealBatch({
          batchId: "00000000-0000-4000-8000-000000000001",
          batchHash: "00".repeat(32),
          messageCount: 1,
        }),
        "STORE_ERROR",
      );
    });

    it("refuses a plan that does not continue the stored leaves, writing nothing", async () => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(3));
      const stale = new OpenBatch({ batchId: batch.batchId });
      await expectCode(store.append(stale.request(makeReadings(2), [makeRejection()])), "BATCH_INTEGRITY");
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

    const ledgerOf = (context: TestContext): AnchorLedger & AuditedStore => {
      if (!isAnchorLedger(store)) context.skip("the store does not implement AnchorLedger");
      return store as AnchorLedger & AuditedStore;
    };
    const sealed = async (count: number): Promise<OpenBatch> => {
      const batch = new OpenBatch();
      await appendAndApply(store, batch, makeReadings(count));
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: count });
      return batch;
    };
    const memoOf = (batch: OpenBatch): string =>
      anchorMemo({ batchId: batch.batchId, messageCount: batch.messageCount, root: batch.batchHash });

    it("anchoring: leases sealed batches to one worker at a time, never a pending one", async (context) => {
      const ledger = ledgerOf(context);
      const a = await sealed(2);
      const b = await sealed(3);
      await appendAndApply(store, new OpenBatch(), makeReadings(1));
      const first = await ledger.claimAnchorWork({ owner: "w1", limit: 10, leaseMs: 60_000 });
      expect(first.map((w) => w.batch.batchId).sort()).toEqual([a.batchId, b.batchId].sort());
      expect(first.every((w) => w.batch.status === "complete" && w.attempts.length === 0)).toBe(true);
      expect(await ledger.claimAnchorWork({ owner: "w2", limit: 10, leaseMs: 60_000 })).toHaveLength(0);
      await ledger.releaseAnchorWork(a.batchId, "w1");
      const second = await ledger.claimAnchorWork({ owner: "w2", limit: 10, leaseMs: 60_000 });
      expect(second.map((w) => w.batch.batchId)).toEqual([a.batchId]);
      const limited = await ledger.claimAnchorWork({ owner: "w1", limit: 1, leaseMs: 60_000 });
      expect(limited.map((w) => w.batch.batchId)).toEqual([b.batchId]);
    });

    it("anchoring: complete → blockchain_pending (signature) → blockchain_confirmed (slot, confirmed_at)", async (context) => {
      const ledger = ledgerOf(context);
      const batch = await sealed(4);
      const memo = memoOf(batch);
      await ledger.recordAnchorAttempt({ batchId: batch.batchId, signature: "sig-1", memo, validUntil: 150 });
      expect((await store.getBatch(batch.batchId))?.status).toBe("blockchain_pending");
      expect(await ledger.getAnchor(batch.batchId)).toMatchObject({
        status: "blockchain_pending",
        signature: "sig-1",
        slot: null,
        memo,
      });
      const [pending] = await ledger.listAnchorAttempts(batch.batchId);
      expect(pending).toMatchObject({ signature: "sig-1", status: "pending", validUntil: 150, memo });
      const work = await ledger.claimAnchorWork({ owner: "w", limit: 10, leaseMs: 60_000 });
      expect(work.map((w) => w.batch.status)).toEqual(["blockchain_pending"]);
      expect(work[0]?.attempts.map((a) => a.signature)).toEqual(["sig-1"]);
      await ledger.confirmAnchor(batch.batchId, "sig-1", { slot: 4242, feeLamports: 5000 });
      await ledger.releaseAnchorWork(batch.batchId, "w");
      expect((await store.getBatch(batch.batchId))?.status).toBe("blockchain_confirmed");
      const anchor = await ledger.getAnchor(batch.batchId);
      expect(anchor).toMatchObject({ status: "blockchain_confirmed", signature: "sig-1", slot: 4242, memo });
      expect(anchor?.confirmedAt).toBeInstanceOf(Date);
      const [confirmed] = await ledger.listAnchorAttempts(batch.batchId);
      expect(confirmed).toMatchObject({ status: "confirmed", slot: 4242, feeLamports: 5000 });
      expect(await ledger.claimAnchorWork({ owner: "w", limit: 10, leaseMs: 60_000 })).toHaveLength(0);
      const listed = [];
      for await (const item of ledger.listAnchors()) listed.push(item);
      expect(listed.map((item) => [item.batchId, item.batch.batchHash, item.batch.messageCount])).toEqual([
        [batch.batchId, batch.batchHash, 4],
      ]);
    });

    it("anchoring: keeps every attempt; an expired one stays recorded next to its successor", async (context) => {
      const ledger = ledgerOf(context);
      const batch = await sealed(2);
      const memo = memoOf(batch);
      await ledger.recordAnchorAttempt({ batchId: batch.batchId, signature: "sig-a", memo, validUntil: 10 });
      await ledger.resolveAnchorAttempt("sig-a", "expired", "blockhash expired");
      await ledger.recordAnchorAttempt({ batchId: batch.batchId, signature: "sig-b", memo, validUntil: 20 });
      const attempts = await ledger.listAnchorAttempts(batch.batchId);
      expect(attempts.map((a) => [a.signature, a.status, a.error])).toEqual([
        ["sig-a", "expired", "blockhash expired"],
        ["sig-b", "pending", null],
      ]);
      expect((await ledger.getAnchor(batch.batchId))?.signature).toBe("sig-b");
      await expectCode(
        ledger.recordAnchorAttempt({ batchId: batch.batchId, signature: "sig-b", memo, validUntil: 20 }),
        "STORE_ERROR",
      );
    });

    it("anchoring: one transaction for several batches is recorded per batch with its path, resolved and confirmed for each", async (context) => {
      const ledger = ledgerOf(context);
      const batches = [await sealed(2), await sealed(3), await sealed(1)];
      const plan = planAggregate(
        batches.map((b) => ({ batchId: b.batchId, messageCount: b.messageCount, root: b.batchHash })),
      );
      const record = (signature: string) =>
        Promise.all(
          batches.map((b, i) =>
            ledger.recordAnchorAttempt({
              batchId: b.batchId,
              signature,
              memo: plan.memo,
              validUntil: 10,
              aggregation: plan.paths[i]!,
            }),
          ),
        );
      await record("sig-agg-1");
      await ledger.resolveAnchorAttempt("sig-agg-1", "expired", "blockhash expired");
      for (const b of batches)
        expect((await ledger.listAnchorAttempts(b.batchId)).map((a) => [a.signature, a.status])).toEqual([
          ["sig-agg-1", "expired"],
        ]);
      await record("sig-agg-2");
      for (const [i, b] of batches.entries()) {
        await ledger.confirmAnchor(b.batchId, "sig-agg-2", { slot: 7, feeLamports: 5000 });
        const anchor = await ledger.getAnchor(b.batchId);
        expect(anchor).toMatchObject({
          status: "blockchain_confirmed",
          signature: "sig-agg-2",
          memo: plan.memo,
          slot: 7,
        });
        expect(anchor?.aggregation).toEqual({ ...plan.paths[i]!, auditPath: [...plan.paths[i]!.auditPath] });
        expect(
          memoMismatch(
            anchor!.memo,
            { batchId: b.batchId, messageCount: b.messageCount, root: b.batchHash },
            anchor!.aggregation,
          ),
        ).toBeNull();
      }
      const listed = [];
      for await (const anchored of ledger.listAnchors()) listed.push(anchored);
      expect(listed.map((a) => a.aggregation?.treeSize)).toEqual([3, 3, 3]);
      await expectCode(
        ledger.recordAnchorAttempt({
          batchId: batches[0]!.batchId,
          signature: "sig-agg-2",
          memo: plan.memo,
          validUntil: 10,
        }),
        "STORE_ERROR",
      );
    });

    it("anchoring: a failure moves the batch to failed, due again only at its retry time; an integrity failure never", async (context) => {
      const ledger = ledgerOf(context);
      const batch = await sealed(2);
      const broken = await sealed(2);
      await store.failBatch(broken.batchId, "stored root does not match its leaves");
      await ledger.failAnchor(batch.batchId, "RPC unreachable", new Date(Date.now() + 60_000));
      expect((await store.getBatch(batch.batchId))?.status).toBe("failed");
      expect(await ledger.claimAnchorWork({ owner: "w", limit: 10, leaseMs: 60_000 })).toHaveLength(0);
      await ledger.failAnchor(batch.batchId, "RPC unreachable again", new Date(Date.now() - 1000));
      const work = await ledger.claimAnchorWork({ owner: "w", limit: 10, leaseMs: 60_000 });
      expect(work.map((w) => [w.batch.batchId, w.batch.status, w.failures])).toEqual([
        [batch.batchId, "failed", 2],
      ]);
      await ledger.recordAnchorAttempt({
        batchId: batch.batchId,
        signature: "sig-r",
        memo: memoOf(batch),
        validUntil: null,
      });
      expect((await store.getBatch(batch.batchId))?.status).toBe("blockchain_pending");
      await expectCode(
        ledger.recordAnchorAttempt({
          batchId: broken.batchId,
          signature: "sig-x",
          memo: memoOf(broken),
          validUntil: null,
        }),
        "STORE_ERROR",
      );
    });

    it("runs behind the bridge's lifecycle guard: a second open() or close() shares the first", async () => {
      await expect(store.open()).resolves.toBeUndefined();
      const closing = store.close();
      expect(store.close()).toBe(closing);
      await expect(closing).resolves.toBeUndefined();
    });

    it("runs behind the guard that refuses use after close with a STOPPED LifecycleError", async () => {
      await store.close();
      await expectCode(store.append(new OpenBatch().request(makeReadings(1), [])), "STOPPED");
      await expectCode(store.loadOpenBatch(), "STOPPED");
      await expectCode(store.getProof("00000000-0000-4000-8000-000000000000"), "STOPPED");
      await expectCode(store.open(), "STOPPED");
    });
  });
}
