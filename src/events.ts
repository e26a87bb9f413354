import type { AnchorEvent } from "./anchoring/anchorer.js";
import type { VeepBridgeError } from "./errors.js";
import type { Reading, RejectionReason } from "./message/types.js";
import type { SourceStatus } from "./sources/source.js";

/** Payload of the `received` event: one message arrived from the source. */
export interface ReceivedEvent {
  /** Topic it arrived on. */
  readonly topic: string;
  /** Payload size in bytes. */
  readonly bytes: number;
  /** When it arrived. */
  readonly receivedAt: Date;
  /** `true` when the transport flagged it as a redelivery (MQTT DUP); see `SourceMessage.redelivered`. */
  readonly redelivered: boolean;
}

/** Payload of the `stored` event: one write-buffer flush committed. */
export interface StoredEvent {
  /** Batch the new messages joined. */
  readonly batchId: string;
  /** Messages newly stored by this commit. */
  readonly stored: number;
  /** Redelivered copies recognised (in memory or by the store), acknowledged without storing. */
  readonly duplicates: number;
  /** Rejections recorded by this commit (decoder and store refusals). */
  readonly rejected: number;
  /** Leaves in the open batch after the commit. */
  readonly batchSize: number;
  /** Running root of the open batch after the commit. */
  readonly batchHash: string;
  /** Time the store took to commit, in milliseconds. */
  readonly durationMs: number;
  /** When the commit completed (receipt→commit latency of a reading is `committedAt - reading.receivedAt`). */
  readonly committedAt: Date;
  /** The readings newly stored by this commit, in leaf order. */
  readonly readings: readonly Reading[];
}

/** Payload of the `rejected` event: a payload was refused and recorded as a dead letter. */
export interface RejectedEvent {
  /** Topic it arrived on. */
  readonly topic: string;
  /** Stable reason code. */
  readonly reason: RejectionReason;
  /** Human-readable detail. */
  readonly detail: string;
}

/** Payload of `batch:opened`: the first messages of a new batch committed. */
export interface BatchOpenedEvent {
  /** The new batch. */
  readonly batchId: string;
  /** `receivedAt` of its first message. */
  readonly startTimestamp: Date;
  /** `true` when the batch was resumed from the store after a restart rather than newly created. */
  readonly resumed: boolean;
}

/** Payload of `batch:sealed`: a batch was closed with its final Merkle root. */
export interface BatchSealedEvent {
  /** The batch. */
  readonly batchId: string;
  /** Final hex Merkle root (`batches.batch_hash`). */
  readonly batchHash: string;
  /** Number of messages (leaves). */
  readonly messageCount: number;
  /** `receivedAt` of the first message. */
  readonly startTimestamp: Date;
  /** `receivedAt` of the last message. */
  readonly endTimestamp: Date;
  /** What sealed it. */
  readonly reason: SealReason;
}

/** Why a batch was sealed. */
export type SealReason = "maxMessages" | "maxBytes" | "maxAge" | "predicate" | "manual" | "stop";

/** Payload of `batch:failed`: a resumed batch did not match its stored root and was marked `failed`. */
export interface BatchFailedEvent {
  /** The batch. */
  readonly batchId: string;
  /** What did not match. */
  readonly reason: string;
}

/** Payload of `retry`: a store operation failed and will be retried after `delayMs`. */
export interface RetryEvent {
  /** Which operation failed. */
  readonly operation: "append" | "seal";
  /** 1 for the first retry. */
  readonly attempt: number;
  /** Wait before the next attempt. */
  readonly delayMs: number;
  /** The failure. */
  readonly error: Error;
}

/** Payload of `backpressure` and `drain`. */
export interface BackpressureEvent {
  /** Messages held in the write buffer. */
  readonly buffered: number;
  /** Payload bytes held in the write buffer. */
  readonly bufferedBytes: number;
  /** `writeBuffer.capacity`. */
  readonly capacity: number;
  /** `writeBuffer.capacityBytes`. */
  readonly capacityBytes: number;
}

/**
 * The bridge's events and their listener signatures.
 *
 * @example
 * ```ts
 * bridge.on("batch:sealed", (b) => console.log(b.batchId, b.batchHash, b.messageCount));
 * bridge.on("rejected", (r) => console.warn(r.reason, r.detail));
 * ```
 */
export interface BridgeEvents {
  /** The source is subscribed and the store ready. */
  started: () => void;
  /** Everything is released. */
  stopped: () => void;
  /** A message arrived. */
  received: (event: ReceivedEvent) => void;
  /** A write-buffer flush committed. */
  stored: (event: StoredEvent) => void;
  /** A payload was refused (and recorded). */
  rejected: (event: RejectedEvent) => void;
  /** A new batch received its first committed messages, or a pending one was resumed. */
  "batch:opened": (event: BatchOpenedEvent) => void;
  /** A batch was sealed. */
  "batch:sealed": (event: BatchSealedEvent) => void;
  /** A resumed batch failed its integrity check. */
  "batch:failed": (event: BatchFailedEvent) => void;
  /** A store operation is being retried. */
  retry: (event: RetryEvent) => void;
  /** The write buffer is full (in messages or bytes): the source is paused. */
  backpressure: (event: BackpressureEvent) => void;
  /** The write buffer is down to half: the source is resumed. */
  drain: (event: BackpressureEvent) => void;
  /** The source's connection changed. */
  source: (status: SourceStatus) => void;
  /** Anchoring (option `anchoring`): a transaction sent, confirmed, expired, or a batch failed. */
  anchor: (event: AnchorEvent) => void;
  /** Something failed. The bridge keeps running unless the error says otherwise. */
  error: (error: VeepBridgeError) => void;
}
