/**
 * Opaque handle returned by {@link Clock.setTimeout}; only ever passed back to {@link Clock.clearTimeout}.
 */
export type TimerHandle = unknown;

/**
 * Source of time and timers for the write buffer and the seal policy, injectable so tests control
 * time.
 *
 * @example
 * ```ts
 * import { manualClock } from "veep-bridge/testing";
 * const clock = manualClock();
 * const bridge = createBridge({ source, store, clock, batch: { maxAgeMs: 5000 } });
 * await clock.advance(5000); // the open batch is now due for sealing by age
 * ```
 */
export interface Clock {
  /** Current time in milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Run `fn` once after `ms` milliseconds.
   *
   * @remarks A timer must not keep the process alive (Node: `unref()` it).
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timer started by {@link Clock.setTimeout}; a no-op for a timer that already ran. */
  clearTimeout(handle: TimerHandle): void;
}

/** A timer object that can stop holding the event loop open (Node's `Timeout`). */
interface Unrefable {
  unref(): unknown;
}

function isUnrefable(handle: unknown): handle is Unrefable {
  return typeof handle === "object" && handle !== null && typeof (handle as Unrefable).unref === "function";
}

/**
 * The real clock: `Date.now()` and the global timers, each timer `unref()`ed so a pending flush timer
 * never keeps the process alive.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = setTimeout(fn, ms);
    if (isUnrefable(handle)) handle.unref();
    return handle;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};
