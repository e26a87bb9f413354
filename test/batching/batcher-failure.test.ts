import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/batching/index.js";
import { flushRecorder, settle, TestClock } from "./support.js";

describe("Batcher when onFlush rejects", () => {
  it("loses nothing: keeps the batch, reports through onError and hands the same batch over at the next trigger", async () => {
    const rec = flushRecorder<number>("manual");
    const errors: unknown[] = [];
    const batcher = new Batcher({
      policy: { maxItems: 2 },
      capacity: 10,
      onFlush: rec.onFlush,
      onError: (e) => errors.push(e),
    });
    batcher.add(1);
    batcher.add(2);
    const failure = new Error("database gone");
    rec.calls[0]?.reject(failure);
    await settle();
    expect(errors).toEqual([failure]);
    expect(batcher.size).toBe(2);
    expect(rec.calls).toHaveLength(1);
    batcher.add(3);
    await settle();
    expect(rec.calls).toHaveLength(1);
    batcher.add(4);
    await settle();
    expect(rec.batches()).toEqual([
      [1, 2],
      [1, 2],
    ]);
    rec.calls[1]?.resolve();
    await settle();
    rec.calls[2]?.resolve();
    await settle();
    expect(rec.batches()).toEqual([
      [1, 2],
      [1, 2],
      [3, 4],
    ]);
    expect(batcher.size).toBe(0);
  });

  it("rejects the waiting flush() instead of calling onError, and a later flush() retries", async () => {
    let fail = true;
    const errors: unknown[] = [];
    const batches: number[][] = [];
    const batcher = new Batcher<number>({
      policy: { maxItems: 10 },
      capacity: 10,
      onFlush: async (items) => {
        batches.push(items);
        if (fail) throw new Error("boom");
      },
      onError: (e) => errors.push(e),
    });
    batcher.add(1);
    batcher.add(2);
    await expect(batcher.flush()).rejects.toThrow("boom");
    expect(errors).toEqual([]);
    expect(batcher.size).toBe(2);
    fail = false;
    await batcher.flush();
    expect(batches).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(batcher.size).toBe(0);
  });

  it("retries maxAgeMs after the failure, not in a tight loop", async () => {
    const clock = new TestClock();
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({
      policy: { maxAgeMs: 100 },
      capacity: 10,
      clock,
      onFlush: rec.onFlush,
      onError: () => {},
    });
    batcher.add(1);
    clock.advance(100);
    rec.calls[0]?.reject(new Error("down"));
    await settle();
    batcher.add(2);
    clock.advance(99);
    await settle();
    expect(rec.calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(rec.batches()).toEqual([[1], [1]]);
    expect(rec.reasons()).toEqual(["maxAge", "maxAge"]);
  });

  it("treats a synchronous throw from onFlush like a rejection", async () => {
    const errors: unknown[] = [];
    const batcher = new Batcher<number>({
      policy: { maxItems: 1 },
      capacity: 10,
      onFlush: () => {
        throw new Error("sync");
      },
      onError: (e) => errors.push(e),
    });
    batcher.add(1);
    await settle();
    expect(errors).toHaveLength(1);
    expect(batcher.size).toBe(1);
  });

  it("keeps the item and reports through onError when shouldFlush throws", async () => {
    const errors: unknown[] = [];
    const rec = flushRecorder<number>();
    const batcher = new Batcher<number>({
      policy: {
        maxItems: 3,
        shouldFlush: (s) => {
          if (s.lastItem === 2) throw new Error("predicate bug");
          return false;
        },
      },
      capacity: 10,
      onFlush: rec.onFlush,
      onError: (e) => errors.push(e),
    });
    expect(batcher.add(1)).toBe(true);
    expect(batcher.add(2)).toBe(true);
    expect(batcher.add(3)).toBe(true);
    await settle();
    expect(errors).toHaveLength(1);
    expect(rec.batches()).toEqual([[1, 2, 3]]);
  });
});
