import type { Clock } from "../batching/clock.js";

/** A {@link Clock} that moves only when told to: timers fire in {@link ManualClock.advance}. */
export interface ManualClock extends Clock {
  /** Timers scheduled and not yet fired or cleared. */
  readonly pending: number;
  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in order, and lets the
   * promise jobs they start run before the next one fires.
   */
  advance(ms: number): Promise<void>;
}

/**
 * Creates a {@link ManualClock} starting at `start` (default: now), for tests of time-driven
 * behaviour (batch age, write-buffer delay, retry backoff) without sleeping.
 *
 * @example
 * ```ts
 * const clock = manualClock();
 * const bridge = createBridge({ source, store, clock, batch: { maxAgeMs: 60_000 } });
 * await clock.advance(60_000); // the age seal fires now
 * ```
 */
export function manualClock(start: number = Date.now()): ManualClock {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++nextId;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    get pending() {
      return timers.size;
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        await settle();
        let due: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers)
          if (entry[1].at <= until && (!due || entry[1].at < due[1].at)) due = entry;
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = until;
      await settle();
    },
  };
}
