import type { Clock } from "./clock.js";
import type { FlushPolicy, FlushReason } from "./flush-policy.js";

/** Options of a {@link Batcher}. */
export interface BatcherOptions<T> {
  /** When to close a batch and hand it over. */
  readonly policy: FlushPolicy<T>;
  /**
   * Most items held at once, the batch being handed over included; {@link Batcher.add} refuses more.
   * Must be at least `policy.maxItems`. When `policy.maxItems` is unset, reaching `capacity` closes the
   * batch (reason `"maxItems"`), so a full buffer always has something to flush.
   */
  readonly capacity: number;
  /**
   * Size of an item in bytes, called once per accepted item; must return a finite number `>= 0`.
   *
   * @defaultValue `() => 0`; required when `policy.maxBytes` is set
   */
  readonly sizeOf?: (item: T) => number;
  /**
   * Receives each closed batch, oldest first, never two at a time. The array is the callee's to keep.
   * Resolve once the batch is durable; retry transient failures inside; reject only for a failure the
   * batcher should report (the items are then kept and handed over again, see {@link Batcher}).
   */
  readonly onFlush: (items: T[], reason: FlushReason) => Promise<void>;
  /**
   * Time and timers.
   *
   * @defaultValue {@link systemClock}
   */
  readonly clock?: Clock;
  /**
   * Receives an `onFlush` rejection that no {@link Batcher.flush} or {@link Batcher.close} caller is
   * waiting for (those callers get the rejection instead), so each failure is reported exactly once.
   *
   * @defaultValue rethrows the error asynchronously (an uncaught exception), so a failure is never silent
   */
  readonly onError?: (error: unknown) => void;
}
