import { describe, expect, it } from "vitest";
import {
  type AnchorEvent,
  aggregateLeaf,
  aggregateMemo,
  anchorBatches,
  anchorMemo,
  memoMismatch,
  memoryAnchor,
  parseAggregateMemo,
  planAggregate,
  verifyAnchors,
} from "../../src/anchoring/index.js";
import type { OpenBatch } from "../../src/bridge/open-batch.js";
import { InvalidOptionError } from "../../src/errors.js";
import { merkleRootHex } from "../../src/hashing/merkle.js";
import { verifyInclusion } from "../../src/hashing/verify-inclusion.js";
import { memoryStore } from "../../src/stores/memory/index.js";
import { manualClock } from "../../src/testing/index.js";
import { sealedBatches } from "./sealed-batches.js";

const fieldsOf = (batch: OpenBatch) => ({
  batchId: batch.batchId,
  messageCount: batch.messageCount,
  root: batch.batchHash,
});

describe("the aggregate memo (veep-bridge:v2)", () => {
  const batchId = "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d";
  const root = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

  it("states the batch count and the root, and reads back", () => {
    const memo = aggregateMemo({ batchCount: 3, root: root.toUpperCase() });
    expect(memo).toBe(`veep-bridge:v2:3:${root}`);
    expect(parseAggregateMemo(memo)).toEqual({ batchCount: 3, root });
    expect(parseAggregateMemo(`veep-bridge:v2:0:${root}`)).toBeNull();
    expect(parseAggregateMemo(`veep-bridge:v1:${batchId}:3:${root}`)).toBeNull();
    expect(() => aggregateMemo({ batchCount: 0, root })).toThrow(InvalidOptionError);
    expect(() => aggregateMemo({ batchCount: 2, root: "abc" })).toThrow(InvalidOptionError);
  });

  it("hashes each batch's own v1 memo text as its leaf (a vector computed with Python's hashlib)", () => {
    expect(aggregateLeaf({ batchId, messageCount: 1000, root })).toBe(
      "2b4f5afe376932da7e0afbc10d2a2087a4a9336d3e35a1145f6913246e597895",
    );
  });

  it("plans the RFC 9162 tree over the batches' leaves, with a path per batch to its root", async () => {
    const { batches } = await sealedBatches(5);
    const fields = batches.map(fieldsOf);
    const plan = planAggregate(fields);
    expect(plan.root).toBe(merkleRootHex(fields.map(aggregateLeaf)));
    expect(plan.memo).toBe(`veep-bridge:v2:5:${plan.root}`);
    for (const [i, path] of plan.paths.entries()) {
      expect(path).toMatchObject({ leafIndex: i, treeSize: 5 });
      expect(memoMismatch(plan.memo, fields[i]!, path)).toBeNull();
      expect(
        verifyInclusion(
          {
            algorithm: "sha256",
            messageHash: aggregateLeaf(fields[i]!),
            ...path,
            auditPath: [...path.auditPath],
            root: plan.root,
          },
          { root: plan.root, treeSize: 5 },
        ),
      ).toBe(true);
    }
  });

  it("names what does not match: another root, another count, a wrong path, no path", async () => {
    const { batches } = await sealedBatches(3);
    const fields = batches.map(fieldsOf);
    const plan = planAggregate(fields);
    const path = plan.paths[1]!;
    const other = "0".repeat(64);
    expect(memoMismatch(plan.memo, { ...fields[1]!, root: other }, path)).toMatch(
      /do not lead to the anchored root/,
    );
    expect(memoMismatch(plan.memo, { ...fields[1]!, messageCount: 4 }, path)).toMatch(/do not lead/);
    expect(memoMismatch(plan.memo, fields[1]!, plan.paths[0]!)).toMatch(/do not lead/);
    expect(memoMismatch(plan.memo, fields[1]!, { ...path, treeSize: 4 })).toMatch(
      /anchors 3 batches, the database says 4/,
    );
    expect(memoMismatch(plan.memo, fields[1]!, null)).toMatch(/keeps no path/);
    expect(memoMismatch(`veep-bridge:v2:3:${other}`, fields[1]!, path)).toMatch(/do not lead/);
  });
});

describe("anchorBatches with aggregate", () => {
  it("anchors full groups at once, a smaller group after maxWaitMs, each batch with its path", async () => {
    const { store, batches } = await sealedBatches(5);
    const clock = manualClock(Date.now());
    const anchor = memoryAnchor({ autoConfirm: false });
    const events: AnchorEvent[] = [];
    const anchorer = anchorBatches(store, {
      anchor,
      clock,
      aggregate: { maxBatches: 2, maxWaitMs: 60_000 },
      onEvent: (e) => events.push(e),
    });
    expect(await anchorer.runOnce()).toMatchObject({ claimed: 5, sent: 2, inFlight: 4 });
    expect(anchor.sent).toHaveLength(2);
    expect((await store.getBatch(batches[4]!.batchId))?.status).toBe("complete");
    const first = await store.getAnchor(batches[0]!.batchId);
    const second = await store.getAnchor(batches[1]!.batchId);
    expect(first?.signature).toBe(second?.signature);
    expect(parseAggregateMemo(first!.memo)).toMatchObject({ batchCount: 2 });
    expect(first?.aggregation).toMatchObject({ leafIndex: 0, treeSize: 2 });
    expect(second?.aggregation).toMatchObject({ leafIndex: 1, treeSize: 2 });
    expect(memoMismatch(first!.memo, fieldsOf(batches[0]!), first!.aggregation)).toBeNull();

    expect(await anchorer.runOnce()).toMatchObject({ sent: 0, inFlight: 4 });
    await clock.advance(61_000);
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1, inFlight: 5 });
    const last = await store.getAnchor(batches[4]!.batchId);
    expect(last?.memo).toBe(anchorMemo(fieldsOf(batches[4]!)));
    expect(last?.aggregation).toBeNull();

    anchor.advance();
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 5 });
    expect(events.filter((e) => e.type === "sent")).toHaveLength(5);
    const fees = new Map(
      (await Promise.all(batches.map((b) => store.listAnchorAttempts(b.batchId))))
        .flat()
        .map((a) => [a.signature, a.feeLamports]),
    );
    expect(fees.size).toBe(3); // three transactions paid for five batches
    const checks = [];
    for await (const check of verifyAnchors(store, anchor)) checks.push(check);
    expect(checks.map((c) => c.ok)).toEqual([true, true, true, true, true]);
  });

  it("verify --anchors catches a consistent rewrite of one aggregated batch, and only that one", async () => {
    const { store, batches } = await sealedBatches(3);
    const anchor = memoryAnchor();
    const anchorer = anchorBatches(store, { anchor, aggregate: { maxBatches: 3 } });
    await anchorer.runOnce();
    await anchorer.runOnce();
    const target = batches[1]!;
    const stored = store.data.batches.get(target.batchId)!;
    store.data.batches.set(target.batchId, { ...stored, batchHash: "ab".repeat(32) });
    const checks = [];
    for await (const check of verifyAnchors(store, anchor)) checks.push(check);
    expect(checks.filter((c) => !c.ok).map((c) => c.batchId)).toEqual([target.batchId]);
    expect(checks.find((c) => !c.ok)?.failure).toMatch(/do not lead to the anchored root/);
  });

  it("an expired aggregate is re-sent for each of its batches; a failed send fails them all", async () => {
    const { store, batches } = await sealedBatches(2);
    const anchor = memoryAnchor();
    anchor.dropNextSend(1);
    const anchorer = anchorBatches(store, {
      anchor,
      aggregate: { maxBatches: 2 },
      retry: { initialDelayMs: 0, maxDelayMs: 0 },
    });
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1, inFlight: 2 });
    anchor.expireAll();
    expect(await anchorer.runOnce()).toMatchObject({ sent: 1 });
    expect(await anchorer.runOnce()).toMatchObject({ confirmed: 2 });
    for (const batch of batches) {
      const attempts = await store.listAnchorAttempts(batch.batchId);
      expect(attempts.map((a) => a.status)).toEqual(["expired", "confirmed"]);
      expect(attempts.every((a) => a.aggregation?.treeSize === 2)).toBe(true);
    }

    const more = await sealedBatches(2);
    const failing = memoryAnchor();
    failing.failNextSend(1, { message: "fee payer has no lamports: fund it" });
    const worker = anchorBatches(more.store, { anchor: failing, aggregate: { maxBatches: 2 } });
    expect(await worker.runOnce()).toMatchObject({ failed: 2, sent: 0 });
    for (const batch of more.batches)
      expect((await more.store.getBatch(batch.batchId))?.status).toBe("failed");
  });

  it("refuses an aggregate of fewer than 2 or more than 1024 batches, or without maxBatches", () => {
    const store = memoryStore();
    const anchor = memoryAnchor();
    expect(() => anchorBatches(store, { anchor, aggregate: { maxBatches: 1 } })).toThrow(InvalidOptionError);
    expect(() => anchorBatches(store, { anchor, aggregate: { maxBatches: 1025 } })).toThrow(
      InvalidOptionError,
    );
    expect(() => anchorBatches(store, { anchor, aggregate: {} as { maxBatches: number } })).toThrow(
      /maxBatches/,
    );
  });
});
