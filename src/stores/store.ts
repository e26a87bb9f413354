import type { Hasher, InclusionProof } from "../hashing/types.js";
import type { Reading, Rejection } from "../message/types.js";

/** Status values of a batch, exactly the schema's `batches.status` CHECK. */
export type BatchStatus =
  | "pending"
  | "hashing"
  | "complete"
  | "failed"
  | "blockchain_pending"
  | "blockchain_confirmed";

/** A batch row as a store returns it. */
export interface BatchRecord {
  /** Batch UUID. */
  readonly batchId: string;
  /** Hex Merkle root of the batch's leaves (running root while `pending`). */
  readonly batchHash: string;
  /** Number of messages (leaves) in the batch. */
  readonly messageCount: number;
  /** `receivedAt` of the first message. */
  readonly startTimestamp: Date;
  /** `receivedAt` of the latest message. */
  readonly endTimestamp: Date;
  /** Lifecycle status. */
  readonly status: BatchStatus;
}

/** A stored message as a leaf of its batch. */
export interface BatchLeaf {
  /** Message UUID. */
  readonly messageId: string;
  /** Zero-based position in the batch. */
  readonly leafIndex: number;
  /** Hex message hash. */
  readonly messageHash: string;
}

/** The open (`pending`) batch a store hands back on restart, so the bridge can continue it. */
export interface OpenBatchSnapshot extends BatchRecord {
  /** Message hashes in leaf order (positions 0..n-1). */
  readonly leaves: readonly string[];
  /**
   * Sum of the raw payload sizes of the leaves, when the store knows it (used for `batch.maxBytes`
   * after a restart; a store that cannot tell omits it and the count restarts from 0).
   */
  readonly payloadBytes?: number;
}

/** One reading with the leaf position it takes in the open batch. */
export interface PlannedLeaf {
  /** The reading. */
  readonly reading: Reading;
  /** Its zero-based leaf position. */
  readonly leafIndex: number;
}

/**
 * What the open batch looks like once a set of readings is appended: computed by
 * {@link AppendRequest.plan} without changing anything, written by the store in one transaction.
 */
export interface BatchAppendPlan {
  /** The open batch. */
  readonly batchId: string;
  /** `true` when this append creates the batch row (its first messages). */
  readonly createsBatch: boolean;
  /** The readings with their leaf positions, contiguous from the batch's current size. */
  readonly leaves: readonly PlannedLeaf[];
  /** Message count after the append. */
  readonly messageCount: number;
  /** Hex Merkle root after the append (the running `batch_hash`). */
  readonly batchHash: string;
  /** Batch start after the append. */
  readonly startTimestamp: Date;
  /** Batch end after the append (latest `receivedAt`). */
  readonly endTimestamp: Date;
}

/** Argument of {@link Store.append}. */
export interface AppendRequest {
  /** Id of the open batch the readings go into. */
  readonly batchId: string;
  /** Valid readings in arrival order; no two of one device share a `messageHash`. */
  readonly readings: readonly Reading[];
  /** Refused payloads to record (dead letter), in arrival order. */
  readonly rejections: readonly Rejection[];
  /**
   * When set: if this append brings the batch to at least this many messages, seal it (`complete`,
   * with the plan's root and count) in the same transaction and report `sealed`. A store may ignore
   * it (the bridge then calls {@link Store.sealBatch}).
   */
  readonly sealAt?: number;
  /**
   * The bridge writing the batch: a store keeps it with a batch this append creates, so that
   * {@link Store.loadOpenBatch} gives each bridge its own open batch back.
   */
  readonly owner?: string;
  /**
   * Lays out `fresh` (the readings that are not duplicates, in order) as the next leaves of the
   * open batch: leaf positions, new count, running root. Pure: call it as often as needed (e.g.
   * again after isolating a row the database refused).
   */
  plan(fresh: readonly Reading[]): BatchAppendPlan;
}

/** What {@link Store.append} committed. */
export interface AppendResult {
  /** The plan that was written, or `null` when no reading was new. */
  readonly plan: BatchAppendPlan | null;
  /** Readings not stored because the same device already has a message with the same `messageHash`. */
  readonly duplicates: readonly Reading[];
  /** Readings the store refused (e.g. PostgreSQL rejected the row), recorded as dead letters. */
  readonly refused: readonly Rejection[];
  /** `true` when the batch was sealed in this commit, as `sealAt` asked. */
  readonly sealed?: boolean;
  /**
   * Rejections (of the request, or refusals of this append) not recorded because the same device's
   * same payload already was: a redelivered bad payload. Absent when every one was recorded.
   */
  readonly duplicateRejections?: readonly Rejection[];
}

/** Argument of {@link Store.sealBatch}. */
export interface SealRequest {
  /** The batch to seal. */
  readonly batchId: string;
  /** Final hex root; must equal the stored running root. */
  readonly batchHash: string;
  /** Final message count; must equal the stored count. */
  readonly messageCount: number;
}

/** A recorded rejection. */
export interface DeadLetterRecord extends Rejection {
  /** Store-assigned identifier. */
  readonly id: string;
}

/** A message together with its proof, as returned by {@link AuditReader.getProof}. */
export interface MessageProof extends InclusionProof {
  /** The message. */
  readonly messageId: string;
  /** The batch whose root the proof leads to. */
  readonly batchId: string;
  /** The batch's status (a proof against a `pending` batch's running root is provisional). */
  readonly batchStatus: BatchStatus;
}

/** The members every {@link Store} must have (checked at run time by `createBridge`). */
export const STORE_METHODS = [
  "open",
  "loadOpenBatch",
  "append",
  "sealBatch",
  "failBatch",
  "getBatch",
  "close",
] as const;

/**
 * The write path: where the bridge keeps readings, batches and rejections (PostgreSQL, memory, …).
 *
 * @remarks Contract, checked by `storeConformance` from `veep-bridge/testing`:
 * 1. `open()` prepares the store (connect, check schema). The bridge calls it once, before anything
 *    else, and `close()` once at the end; `guardStore` (from `veep-bridge/adapter`) enforces that for every adapter.
 * 2. `append()` is atomic: every new reading is written exactly once, already carrying its batch
 *    and leaf position from `request.plan(fresh)`; in the same commit the open batch row is created
 *    (`pending`) or advanced (`message_count`, timestamps, `batch_hash` = running root), the
 *    rejections are recorded, and device statistics are updated. Either all of it commits or none.
 * 3. De-duplication: a reading of a device whose `messageHash` is already stored for that device
 *    (in any batch) is not stored again nor counted; it is returned in `duplicates`. The same payload
 *    from two devices is two messages. A rejection whose raw bytes are already recorded for the same
 *    device (or, without a device, the same topic) is not recorded again.
 * 4. A reading the store cannot write must not fail its neighbours: it is recorded as a
 *    rejection with reason `store_refused` and returned in `refused`; the rest are stored.
 * 5. Invariant at every commit: a batch's leaves have positions 0..n-1 without gaps,
 *    `messageCount` = n and `batchHash` = Merkle root of those leaves in order.
 * 6. `sealBatch()` sets the batch `complete` in one step, after checking hash and count.
 * 7. `loadOpenBatch(owner)` returns the `pending` batch of that owner (at most one: the owner of
 *    the appends that created it) with its leaves in order, also from a fresh instance over the same
 *    data (resume after restart). Without one it claims a `pending` batch that has no owner (made
 *    for it), atomically, so two owners never get the same batch. No owner given means the batches
 *    without one. `failBatch()` marks a batch `failed`.
 */
export interface Store {
  /** Short name for logs and events, e.g. `"postgres"`. */
  readonly name: string;
  /**
   * Hash primitives of this store's message hashes and Merkle trees; the bridge hashes with the
   * same ones, so proofs always match.
   * @defaultValue SHA-256 (`sha256Hasher`) when absent
   */
  readonly hasher?: Hasher;
  /** Prepare the store. */
  open(): Promise<void>;
  /**
   * The open (`pending`) batch of `owner` with its leaves, or `null` (see the contract).
   * @param owner - the bridge asking (its `batch.owner`); absent: batches that have no owner
   */
  loadOpenBatch(owner?: string): Promise<OpenBatchSnapshot | null>;
  /** Write readings and rejections in one transaction (see the contract). */
  append(request: AppendRequest): Promise<AppendResult>;
  /** Mark a batch `complete` with its final root. */
  sealBatch(request: SealRequest): Promise<BatchRecord>;
  /** Mark a batch `failed`, keeping the reason. */
  failBatch(batchId: string, reason: string): Promise<void>;
  /** One batch, or `null`. */
  getBatch(batchId: string): Promise<BatchRecord | null>;
  /** Release resources. */
  close(): Promise<void>;
  /**
   * Optional: every device that has a registered Ed25519 public key (device id → base58 of 32
   * bytes). A store that has it makes the bridge check device signatures by default: the bridge
   * loads the keys at start and refreshes them, never per message (see the bridge's `signatures`
   * option). A store without it leaves signature checks off unless the bridge is given keys.
   */
  loadDeviceKeys?(): Promise<ReadonlyMap<string, string>>;
}

/**
 * The audit reads of a store: what verifiers, the CLI and host applications read back. Both
 * bundled stores implement it next to {@link Store}; the bridge never calls it.
 */
export interface AuditReader {
  /** One batch, or `null`. */
  getBatch(batchId: string): Promise<BatchRecord | null>;
  /** A batch's leaves in leaf order. */
  getBatchLeaves(batchId: string): Promise<readonly BatchLeaf[]>;
  /** Inclusion proof of a stored message against its batch's stored root, or `null` if the message is unknown. */
  getProof(messageId: string): Promise<MessageProof | null>;
  /** Recorded rejections, most recent first (`limit` defaults to 100). */
  listDeadLetters(options?: { readonly limit?: number }): Promise<readonly DeadLetterRecord[]>;
}
