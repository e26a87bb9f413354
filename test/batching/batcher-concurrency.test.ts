import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/batching/index.js";
import { flushRecorder, settle } from "./support.js";

describe("Batcher flush concurrency", () => {
  it("runs only one flush at a time; items added meanwhile wait for the next flush", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 2 }, capacity: 100, onFlush: rec.onFlush });
    for (let n = 1; n <= 7; n++) batcher.add(n);
    await settle();
    expect(rec.batches()).toEqual([[1, 2]]);
    rec.calls[0]?.resolve();
    await settle();
    expect(rec.batches()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    rec.calls[1]?.resolve();
    await settle();
    rec.calls[2]?.resolve();
    await settle();
    expect(rec.batches()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(rec.maxActive()).toBe(1);
    expect(batcher.size).toBe(1);
  });

  it("never hands over more than maxItems, even when more piled up during a slow flush", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({
      policy: { maxItems: 3, maxAgeMs: 1_000 },
      capacity: 100,
      onFlush: rec.onFlush,
    });
    for (let n = 1; n <= 3; n++) batcher.add(n);
    for (let n = 4; n <= 11; n++) batcher.add(n);
    const flushed = batcher.flush();
    for (let i = 0; i < 4; i++) {
      await settle();
      rec.calls[i]?.resolve();
    }
    await flushed;
    expect(rec.batches()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
      [10, 11],
    ]);
    expect(rec.reasons()).toEqual(["maxItems", "maxItems", "maxItems", "manual"]);
    expect(rec.maxActive()).toBe(1);
  });

  it("flush() also waits for the batch already in flight", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 1 }, capacity: 10, onFlush: rec.onFlush });
    batcher.add(1);
    let done = false;
    const flushed = batcher.flush().then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    rec.calls[0]?.resolve();
    await flushed;
    expect(done).toBe(true);
  });

  it("does not call onFlush again when onFlush adds items synchronously", async () => {
    let batcher: Batcher<number> | undefined;
    let active = 0;
    let maxActive = 0;
    const batches: number[][] = [];
    batcher = new Batcher<number>({
      policy: { maxItems: 1 },
      capacity: 10,
      onFlush: async (items) => {
        active++;
        maxActive = Math.max(maxActive, active);
        batches.push(items);
        if ((items[0] ?? 0) < 3) batcher?.add((items[0] ?? 0) + 1);
        await settle();
        active--;
      },
    });
    batcher.add(1);
    await batcher.flush();
    await settle();
    expect(batches).toEqual([[1], [2], [3]]);
    expect(maxActive).toBe(1);
  });
});
