import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/batching/index.js";
import { flushRecorder, settle } from "./support.js";

describe("Batcher capacity and backpressure", () => {
  it("refuses items at capacity, counts the refusals and reports full", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 2 }, capacity: 4, onFlush: rec.onFlush });
    expect([1, 2, 3, 4].map((n) => batcher.add(n))).toEqual([true, true, true, true]);
    expect(batcher.full).toBe(true);
    expect(batcher.add(5)).toBe(false);
    expect(batcher.add(6)).toBe(false);
    expect(batcher.refusedCount).toBe(2);
    expect(batcher.size).toBe(4);
    rec.calls[0]?.resolve();
    await settle();
    expect(batcher.full).toBe(false);
    expect(batcher.add(7)).toBe(true);
    const flushed = batcher.flush();
    rec.calls[1]?.resolve();
    await settle();
    rec.calls[2]?.resolve();
    await flushed;
    expect(rec.batches()).toEqual([[1, 2], [3, 4], [7]]);
  });

  it("whenNotFull() resolves once a flush freed room, and at once when not full", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 2 }, capacity: 2, onFlush: rec.onFlush });
    await expect(batcher.whenNotFull()).resolves.toBeUndefined();
    batcher.add(1);
    batcher.add(2);
    let drained = false;
    const drain = batcher.whenNotFull().then(() => {
      drained = true;
    });
    expect(batcher.whenNotFull()).toBe(batcher.whenNotFull());
    await settle();
    expect(drained).toBe(false);
    rec.calls[0]?.resolve();
    await drain;
    expect(batcher.add(3)).toBe(true);
  });

  it("closes the batch at capacity when no maxItems is set, so a full buffer always drains", async () => {
    const rec = flushRecorder<number>();
    const batcher = new Batcher({ policy: { maxAgeMs: 60_000 }, capacity: 3, onFlush: rec.onFlush });
    for (const n of [1, 2, 3]) batcher.add(n);
    await settle();
    expect(rec.batches()).toEqual([[1, 2, 3]]);
    expect(rec.reasons()).toEqual(["maxItems"]);
    await batcher.close();
  });

  it("keeps a ring bounded by capacity while it wraps around many times", async () => {
    const rec = flushRecorder<number>();
    const batcher = new Batcher({ policy: { maxItems: 7 }, capacity: 100, onFlush: rec.onFlush });
    const added: number[] = [];
    for (let n = 0; n < 5_000; n++) {
      if (!batcher.add(n)) {
        await batcher.whenNotFull();
        batcher.add(n);
      }
      added.push(n);
      if (n % 13 === 0) await settle();
    }
    await batcher.close();
    expect(rec.batches().flat()).toEqual(added);
    expect(Math.max(...rec.batches().map((b) => b.length))).toBe(7);
  });
});
