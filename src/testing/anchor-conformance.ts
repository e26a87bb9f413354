import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anchorMemo } from "../anchoring/memo.js";
import type { Anchor } from "../anchoring/types.js";
import { AnchorError } from "../errors.js";

/** What {@link anchorConformance} needs for each test: an anchor on a chain of its own. */
export interface AnchorHarness {
  /** The anchor under test. */
  readonly anchor: Anchor;
  /** Lets the chain move on until every sent transaction is confirmed (e.g. produce blocks). */
  settle(): Promise<void>;
  /** Moves the chain past the validity of every transaction prepared so far. */
  expire(): Promise<void>;
  /** Releases the chain. */
  dispose(): Promise<void>;
}

const BATCH = "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d";
const OTHER = "0e4f7a1c-9b2d-4c6e-8a3f-1d5b7c9e2a4f";
const ROOT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/**
 * The contract every {@link Anchor} must meet (see its documentation), as a vitest suite.
 *
 * @example
 * ```ts
 * import { anchorConformance } from "veep-bridge/testing";
 * import { memoryAnchor } from "veep-bridge/memory";
 * anchorConformance("memory", async () => {
 *   const anchor = memoryAnchor({ autoConfirm: false });
 *   return { anchor, settle: async () => anchor.advance(), expire: async () => anchor.expireAll(), dispose: async () => {} };
 * });
 * ```
 */
export function anchorConformance(name: string, makeHarness: () => Promise<AnchorHarness>): void {
  describe(`Anchor conformance: ${name}`, () => {
    let harness: AnchorHarness;
    let anchor: Anchor;
    const memo = anchorMemo({ batchId: BATCH, messageCount: 1000, root: ROOT });

    beforeEach(async () => {
      harness = await makeHarness();
      anchor = harness.anchor;
    });
    afterEach(async () => {
      await anchor.close?.();
      await harness.dispose();
    });

    it("prepares a signed transaction carrying the memo, with a signature that fits VARCHAR(88)", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      expect(prepared.memo).toBe(memo);
      expect(prepared.signature.length).toBeGreaterThan(0);
      expect(prepared.signature.length).toBeLessThanOrEqual(88);
      expect(prepared.transaction.length).toBeGreaterThan(0);
      const again = await anchor.prepare({ batchId: BATCH, memo });
      expect(again.signature).not.toBe(prepared.signature);
    });

    it("sends, confirms with a slot and a fee, and reads the memo back from the chain", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      await anchor.send(prepared);
      await harness.settle();
      const status = await anchor.status(prepared);
      expect(status.state).toBe("confirmed");
      if (status.state !== "confirmed") return;
      expect(status.slot).toBeGreaterThanOrEqual(0);
      expect(status.feeLamports).toBeGreaterThan(0);
      const read = await anchor.read(prepared.signature);
      expect(read?.memos).toEqual([memo]);
      expect(read?.slot).toBe(status.slot);
    });

    it("keeps two batches' transactions apart", async () => {
      const otherMemo = anchorMemo({ batchId: OTHER, messageCount: 3, root: ROOT });
      const a = await anchor.prepare({ batchId: BATCH, memo });
      const b = await anchor.prepare({ batchId: OTHER, memo: otherMemo });
      await anchor.send(a);
      await anchor.send(b);
      await harness.settle();
      expect((await anchor.read(a.signature))?.memos).toEqual([memo]);
      expect((await anchor.read(b.signature))?.memos).toEqual([otherMemo]);
    });

    it("anchors a transaction sent twice only once", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      await anchor.send(prepared);
      await anchor.send(prepared).catch((error: unknown) => {
        expect(error).toBeInstanceOf(AnchorError);
      });
      await harness.settle();
      expect((await anchor.status(prepared)).state).toBe("confirmed");
      expect((await anchor.read(prepared.signature))?.memos).toEqual([memo]);
    });

    it("reports a prepared transaction that was never sent as pending, then expired, never confirmed", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      expect((await anchor.status(prepared)).state).toBe("pending");
      await harness.expire();
      expect((await anchor.status(prepared)).state).toBe("expired");
      expect(await anchor.read(prepared.signature)).toBeNull();
    });

    it("refuses to send an expired transaction, definitely, and never lands it", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      await harness.expire();
      const error = await anchor.send(prepared).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AnchorError);
      expect((error as AnchorError).definite).toBe(true);
      await harness.settle();
      expect((await anchor.status(prepared)).state).toBe("expired");
    });

    it("reads nothing for an unknown signature", async () => {
      const prepared = await anchor.prepare({ batchId: BATCH, memo });
      expect(await anchor.read(prepared.signature)).toBeNull();
    });
  });
}
