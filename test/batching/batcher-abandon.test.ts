import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/batching/index.js";

describe("Batcher.abandon", () => {
  it("returns the items not in flight, hands nothing over afterwards and lets the running flush finish", async () => {
    const flushed: number[][] = [];
    let release: () => void = () => {};
    const batcher = new Batcher<number>({
      policy: { maxItems: 2 },
      capacity: 10,
      onFlush: async (items) => {
        flushed.push(items);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    batcher.add(1);
    batcher.add(2);
    batcher.add(3);
    batcher.add(4);
    batcher.add(5);
    expect(flushed).toEqual([[1, 2]]);
    expect(batcher.abandon()).toEqual([3, 4, 5]);
    expect(batcher.abandon()).toEqual([]);
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(flushed).toEqual([[1, 2]]);
    expect(batcher.size).toBe(0);
    await expect(batcher.flush()).resolves.toBeUndefined();
    expect(() => batcher.add(6)).toThrow();
  });

  it("stops the age timer", async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number>({
      policy: { maxAgeMs: 20 },
      capacity: 10,
      onFlush: async (items) => {
        flushed.push(items);
      },
    });
    batcher.add(1);
    expect(batcher.abandon()).toEqual([1]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(flushed).toEqual([]);
  });
});
