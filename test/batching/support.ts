import type { Clock, FlushReason, TimerHandle } from "../../src/batching/index.js";

/** A Clock whose time only moves when a test calls `advance`. */
export class TestClock implements Clock {
  time = 1_700_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = target;
  }
}

/** One call of `onFlush`, settled by the test. */
export interface FlushCall<T> {
  readonly items: T[];
  readonly reason: FlushReason;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** An `onFlush` that records calls; by default each call resolves at once, `manual` leaves it pending. */
export function flushRecorder<T>(mode: "auto" | "manual" = "auto") {
  const calls: FlushCall<T>[] = [];
  let active = 0;
  let maxActive = 0;
  const onFlush = (items: T[], reason: FlushReason): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const done = (settle: () => void) => () => {
        active--;
        settle();
      };
      calls.push({ items, reason, resolve: done(resolve), reject: (e) => done(() => reject(e))() });
      if (mode === "auto") calls[calls.length - 1]?.resolve();
    });
  return {
    onFlush,
    calls,
    batches: () => calls.map((c) => c.items),
    reasons: () => calls.map((c) => c.reason),
    maxActive: () => maxActive,
  };
}

/** Let pending promise callbacks run (microtasks only, so it works under fake timers too). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
