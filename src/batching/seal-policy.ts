import type { SealReason } from "../events.js";

/** What a custom seal predicate (`batch.shouldSeal`) sees of the open batch. */
export interface OpenBatchState {
  /** The open batch. */
  readonly batchId: string;
  /** Committed leaves. */
  readonly messageCount: number;
  /** Payload bytes of the committed leaves. */
  readonly bytes: number;
  /** Milliseconds since its first message was received. */
  readonly ageMs: number;
}

/** When a batch is sealed; whichever limit is reached first seals it. */
export interface SealLimits {
  /** A batch never holds more messages. */
  readonly maxMessages: number;
  /** A batch never holds more payload bytes (a single larger message goes alone); `undefined`: no limit. */
  readonly maxBytes: number | undefined;
  /** A batch is sealed this long after its first message. */
  readonly maxAgeMs: number;
  /** Seals when it returns `true`; checked after each commit and on resume. */
  readonly shouldSeal: ((state: OpenBatchState) => boolean) | undefined;
}

/** The open batch as the seal decision reads it. */
export interface SealCandidate {
  readonly batchId: string;
  readonly messageCount: number;
  readonly bytes: number;
  readonly startTimestamp: Date | undefined;
}

/**
 * The one seal decision: why the open batch must be sealed now, or `undefined`.
 *
 * @param batch - the open batch (an empty one is never due)
 * @param limits - the seal policy
 * @param now - current time, ms since the epoch
 * @param nextBytes - payload size of the next reading waiting to join, if any: a batch that cannot
 *   take it without passing a limit is due
 * @throws whatever `limits.shouldSeal` throws (the caller reports it)
 */
export function sealDue(
  batch: SealCandidate,
  limits: SealLimits,
  now: number,
  nextBytes?: number,
): SealReason | undefined {
  const { messageCount, bytes } = batch;
  if (messageCount === 0) return undefined;
  if (messageCount >= limits.maxMessages) return "maxMessages";
  const { maxBytes } = limits;
  if (maxBytes !== undefined && (bytes >= maxBytes || bytes + (nextBytes ?? 0) > maxBytes)) return "maxBytes";
  const ageMs = batch.startTimestamp ? now - batch.startTimestamp.getTime() : 0;
  if (ageMs >= limits.maxAgeMs) return "maxAge";
  if (limits.shouldSeal?.({ batchId: batch.batchId, messageCount, bytes, ageMs })) return "predicate";
  return undefined;
}

/**
 * How many of the next readings (their payload sizes, in order) the open batch takes before a
 * limit would be passed; the first one always fits an empty batch.
 */
export function roomFor(batch: SealCandidate, limits: SealLimits, sizes: readonly number[]): number {
  let count = batch.messageCount;
  let bytes = batch.bytes;
  let taken = 0;
  for (const size of sizes) {
    const empty = count === 0;
    if (count + 1 > limits.maxMessages) break;
    if (!empty && limits.maxBytes !== undefined && bytes + size > limits.maxBytes) break;
    count++;
    bytes += size;
    taken++;
  }
  return taken;
}
