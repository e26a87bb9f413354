/**
 * Batching: a bounded {@link Batcher} that groups items by a {@link FlushPolicy}.
 *
 * @packageDocumentation
 */
export { Batcher } from "./batcher.js";
export type { BatcherOptions } from "./batcher-options.js";
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
export {
  assertPositiveInteger,
  type BatchState,
  type FlushPolicy,
  type FlushReason,
  MAX_TIMER_DELAY_MS,
  validateFlushPolicy,
} from "./flush-policy.js";
