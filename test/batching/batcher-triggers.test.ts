import { afterEach, describe, expect, it, vi } from "vitest";
import { Batcher, type BatchState } from "../../src/batching/index.js";
import { flushRecorder, settle, TestClock } from "./support.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("Batcher flush triggers", () => {
  it("flushes when the batch reaches maxItems and keeps the rest for the next batch", async () => {
    const rec = flushRecorder<number>();
    const batcher = new Batcher({ policy: { maxItems: 3 }, capacity: 10, onFlush: rec.onFlush });
    for (const n of [1, 2, 3, 4, 5]) batcher.add(n);
    await settle();
    expect(rec.batches()).toEqual([[1, 2, 3]]);
    expect(rec.reasons()).toEqual(["maxItems"]);
    expect(batcher.size).toBe(2);
  });

  it("flushes at maxBytes, starting a new batch with an item that would exceed it", async () => {
    const rec = flushRecorder<string>();
    const batcher = new Batcher({
      policy: { maxBytes: 10 },
      capacity: 10,
      sizeOf: (s: string) => s.length,
      onFlush: rec.onFlush,
    });
    batcher.add("aaaa");
    batcher.add("bbbb");
    expect(batcher.bytes).toBe(8);
    batcher.add("ccc");
    await settle();
    expect(rec.batches()).toEqual([["aaaa", "bbbb"]]);
    batcher.add("ddddddd");
    await settle();
    expect(rec.batches()).toEqual([
      ["aaaa", "bbbb"],
      ["ccc", "ddddddd"],
    ]);
    expect(rec.reasons()).toEqual(["maxBytes", "maxBytes"]);
    expect(batcher.bytes).toBe(0);
  });

  it("hands an item larger than maxBytes over as a batch of its own", async () => {
    const rec = flushRecorder<string>();
    const batcher = new Batcher({
      policy: { maxBytes: 4 },
      capacity: 10,
      sizeOf: (s) => s.length,
      onFlush: rec.onFlush,
    });
    batcher.add("a");
    batcher.add("0123456789");
    batcher.add("b");
    await settle();
    expect(rec.batches()).toEqual([["a"], ["0123456789"]]);
    expect(batcher.size).toBe(1);
  });

  it("flushes when maxAgeMs elapses since the first item, not since the last (fake timers)", async () => {
    vi.useFakeTimers({ now: 0 });
    const rec = flushRecorder<string>();
    const batcher = new Batcher({
      policy: { maxItems: 100, maxAgeMs: 5 },
      capacity: 100,
      onFlush: rec.onFlush,
    });
    batcher.add("first");
    vi.advanceTimersByTime(3);
    batcher.add("second");
    vi.advanceTimersByTime(1);
    await settle();
    expect(rec.calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    await settle();
    expect(rec.batches()).toEqual([["first", "second"]]);
    expect(rec.reasons()).toEqual(["maxAge"]);
  });

  it("measures maxAgeMs on the injected clock and restarts it with the next batch's first item", async () => {
    const clock = new TestClock();
    const rec = flushRecorder<number>();
    const batcher = new Batcher({ policy: { maxAgeMs: 300_000 }, capacity: 10, clock, onFlush: rec.onFlush });
    batcher.add(1);
    clock.advance(299_999);
    batcher.add(2);
    await settle();
    expect(rec.calls).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(rec.batches()).toEqual([[1, 2]]);
    clock.advance(1_000_000);
    expect(clock.pendingTimers).toBe(0);
    batcher.add(3);
    clock.advance(299_999);
    await settle();
    expect(rec.calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(rec.batches()).toEqual([[1, 2], [3]]);
  });

  it("clears the age timer when a batch is flushed by another trigger", async () => {
    const clock = new TestClock();
    const rec = flushRecorder<number>();
    const batcher = new Batcher({
      policy: { maxItems: 2, maxAgeMs: 50 },
      capacity: 10,
      clock,
      onFlush: rec.onFlush,
    });
    batcher.add(1);
    expect(clock.pendingTimers).toBe(1);
    batcher.add(2);
    expect(clock.pendingTimers).toBe(0);
    await settle();
    expect(rec.reasons()).toEqual(["maxItems"]);
  });

  it("closes the batch after an item when shouldFlush returns true, with the batch's state", async () => {
    const clock = new TestClock();
    const rec = flushRecorder<{ v: number; last?: boolean }>();
    const seen: BatchState<{ v: number; last?: boolean }>[] = [];
    const batcher = new Batcher({
      policy: {
        shouldFlush: (state) => {
          seen.push({ ...state });
          return state.lastItem.last === true;
        },
      },
      capacity: 10,
      sizeOf: (item) => item.v,
      clock,
      onFlush: rec.onFlush,
    });
    const start = clock.now();
    batcher.add({ v: 10 });
    clock.advance(7);
    batcher.add({ v: 5, last: true });
    batcher.add({ v: 1 });
    await settle();
    expect(rec.batches()).toEqual([[{ v: 10 }, { v: 5, last: true }]]);
    expect(rec.reasons()).toEqual(["predicate"]);
    expect(seen[1]).toEqual({
      count: 2,
      bytes: 15,
      firstAddedAt: start,
      ageMs: 7,
      lastItem: { v: 5, last: true },
    });
    expect(seen[2]).toMatchObject({ count: 1, bytes: 1, firstAddedAt: start + 7, ageMs: 0 });
  });

  it("flush() hands over the open batch and resolves once onFlush settled", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 10 }, capacity: 10, onFlush: rec.onFlush });
    batcher.add(1);
    batcher.add(2);
    let resolved = false;
    const done = batcher.flush().then(() => {
      resolved = true;
    });
    await settle();
    expect(rec.batches()).toEqual([[1, 2]]);
    expect(rec.reasons()).toEqual(["manual"]);
    expect(resolved).toBe(false);
    rec.calls[0]?.resolve();
    await done;
    expect(batcher.size).toBe(0);
  });

  it("flush() on an empty batcher resolves at once without calling onFlush", async () => {
    const rec = flushRecorder<number>();
    const batcher = new Batcher({ policy: { maxItems: 10 }, capacity: 10, onFlush: rec.onFlush });
    await expect(batcher.flush()).resolves.toBeUndefined();
    expect(rec.calls).toHaveLength(0);
  });

  it("fits() says whether an item joins the open batch", () => {
    const rec = flushRecorder<string>("manual");
    const batcher = new Batcher({
      policy: { maxItems: 3, maxBytes: 10 },
      capacity: 10,
      sizeOf: (s: string) => s.length,
      onFlush: rec.onFlush,
    });
    expect(batcher.fits("0123456789abc")).toBe(true);
    batcher.add("012345");
    expect(batcher.fits("0123")).toBe(true);
    expect(batcher.fits("01234")).toBe(false);
    batcher.add("0");
    expect(batcher.fits("0123")).toBe(false);
    batcher.add("1");
    expect(batcher.fits("0123456789")).toBe(true);
    expect(rec.batches()).toEqual([["012345", "0", "1"]]);
  });
});
