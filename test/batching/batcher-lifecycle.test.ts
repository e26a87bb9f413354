import { describe, expect, it, vi } from "vitest";
import { Batcher, systemClock } from "../../src/batching/index.js";
import { LifecycleError } from "../../src/errors.js";
import { flushRecorder, settle, TestClock } from "./support.js";

describe("Batcher lifecycle", () => {
  it("close() flushes what remains, stops the timer and is idempotent", async () => {
    const clock = new TestClock();
    const rec = flushRecorder<number>();
    const batcher = new Batcher({
      policy: { maxItems: 10, maxAgeMs: 1_000 },
      capacity: 10,
      clock,
      onFlush: rec.onFlush,
    });
    batcher.add(1);
    batcher.add(2);
    expect(clock.pendingTimers).toBe(1);
    const first = batcher.close();
    expect(batcher.close()).toBe(first);
    await first;
    expect(rec.batches()).toEqual([[1, 2]]);
    expect(rec.reasons()).toEqual(["manual"]);
    expect(clock.pendingTimers).toBe(0);
    await batcher.close();
    expect(rec.calls).toHaveLength(1);
  });

  it("close() waits for the flush in flight", async () => {
    const rec = flushRecorder<number>("manual");
    const batcher = new Batcher({ policy: { maxItems: 1 }, capacity: 10, onFlush: rec.onFlush });
    batcher.add(1);
    let closed = false;
    const closing = batcher.close().then(() => {
      closed = true;
    });
    await settle();
    expect(closed).toBe(false);
    rec.calls[0]?.resolve();
    await closing;
    expect(closed).toBe(true);
  });

  it("throws a LifecycleError on add() after close()", async () => {
    const batcher = new Batcher<number>({ policy: { maxItems: 1 }, capacity: 1, onFlush: async () => {} });
    void batcher.close();
    expect(() => batcher.add(1)).toThrow(LifecycleError);
    expect(() => batcher.add(1)).toThrow(expect.objectContaining({ code: "STOPPED" }));
  });

  it("supports await using", async () => {
    const rec = flushRecorder<number>();
    {
      await using batcher = new Batcher({ policy: { maxItems: 5 }, capacity: 5, onFlush: rec.onFlush });
      batcher.add(1);
    }
    expect(rec.batches()).toEqual([[1]]);
  });

  it("unref()s its age timer with the system clock so it never keeps the process alive", async () => {
    const setTimeoutSpy = vi.spyOn(systemClock, "setTimeout");
    try {
      const batcher = new Batcher<number>({
        policy: { maxAgeMs: 60_000 },
        capacity: 10,
        onFlush: async () => {},
      });
      batcher.add(1);
      expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
      const handle = setTimeoutSpy.mock.results[0]?.value as NodeJS.Timeout;
      expect(handle.hasRef()).toBe(false);
      await batcher.close();
    } finally {
      setTimeoutSpy.mockRestore();
    }
  });

  it("systemClock timers fire and can be cleared", async () => {
    const fired: string[] = [];
    const kept = systemClock.setTimeout(() => fired.push("kept"), 1);
    const cleared = systemClock.setTimeout(() => fired.push("cleared"), 1);
    systemClock.clearTimeout(cleared);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual(["kept"]);
    expect((kept as NodeJS.Timeout).hasRef()).toBe(false);
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(50);
  });
});
