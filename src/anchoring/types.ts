import type { BatchRecord } from "../stores/store.js";
import type { AnchorAggregation } from "./memo.js";

/** What an {@link Anchor} is asked to put on its chain: one memo, for one batch or several. */
export interface AnchorRequest {
  /** The batch anchored, the first one for an aggregate (for the anchor's own records and logs). */
  readonly batchId: string;
  /** The memo text, from `anchorMemo`. */
  readonly memo: string;
}

/**
 * A signed transaction, ready to send. Its signature is known before it is sent, so the store
 * records the attempt first: a crash between send and store leaves a signature to look up, never
 * an unknown transaction.
 */
export interface PreparedAnchor {
  /** The transaction signature (for Solana: base58 of 64 bytes, at most 88 characters). */
  readonly signature: string;
  /** The memo it carries. */
  readonly memo: string;
  /**
   * The chain height after which the transaction can no longer land (Solana: the blockhash's
   * `lastValidBlockHeight`), or `null` when the chain has no such limit.
   */
  readonly validUntil: number | null;
  /** The signed transaction in the anchor's wire format (Solana: base64). */
  readonly transaction: string;
}

/** Where a sent transaction stands, as {@link Anchor.status} sees it. */
export type AnchorStatus =
  | {
      /** Landed and confirmed at the anchor's commitment. */
      readonly state: "confirmed";
      /** The slot (block) it landed in. */
      readonly slot: number;
      /** The fee paid, in lamports (or the chain's smallest unit). */
      readonly feeLamports: number;
    }
  | {
      /** Not confirmed yet, and it still can land (or already did, below the commitment). */
      readonly state: "pending";
    }
  | {
      /** Not on the chain and it can no longer land (its blockhash expired): safe to send another. */
      readonly state: "expired";
    }
  | {
      /** Landed but failed (the fee is spent, nothing anchored). */
      readonly state: "failed";
      /** The chain's error. */
      readonly reason: string;
    };

/** What the chain holds for a signature, as {@link Anchor.read} returns it. */
export interface AnchoredTransaction {
  /** The signature. */
  readonly signature: string;
  /** The slot it landed in. */
  readonly slot: number;
  /** The memo texts of its memo instructions (normally one). */
  readonly memos: readonly string[];
  /** The fee paid, in lamports. */
  readonly feeLamports: number;
}

/**
 * Writes batch roots outside the database, on a chain an insider cannot rewrite.
 *
 * @remarks Contract, checked by `anchorConformance` from `veep-bridge/testing`:
 * 1. `prepare()` builds and signs one transaction carrying `request.memo`, without sending it, and
 *    returns its signature. Two calls give two transactions (two signatures).
 * 2. `send()` submits a prepared transaction. It throws an `AnchorError`: `definite` when the
 *    transaction surely did not reach the chain. Sending the same one twice anchors it once.
 * 3. `status()` reports `confirmed` (with slot and fee) once the transaction landed at the
 *    anchor's commitment; `expired` only when it is not on the chain and never can be; else
 *    `pending`. A prepared transaction that was never sent ends `expired`, never `confirmed`.
 * 4. `read()` returns what the chain holds for a signature (slot, memos), or `null` if nothing.
 */
export interface Anchor {
  /** Short name for logs, e.g. `"solana"`. */
  readonly name: string;
  /** Builds and signs the transaction of one memo. */
  prepare(request: AnchorRequest): Promise<PreparedAnchor>;
  /** Submits a prepared transaction. */
  send(prepared: PreparedAnchor): Promise<void>;
  /** Where a transaction stands. */
  status(attempt: { readonly signature: string; readonly validUntil: number | null }): Promise<AnchorStatus>;
  /** The transaction of a signature as the chain holds it, or `null`. */
  read(signature: string): Promise<AnchoredTransaction | null>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}

/** A confirmed anchor with its batch as stored (for `verify --anchors`). */
export interface AnchoredBatch extends BatchAnchor {
  /** The batch row: root and count to compare with the memo on chain. */
  readonly batch: BatchRecord;
}

/** Status of one anchoring attempt (`blockchain_transactions.status`). */
export type AnchorAttemptStatus = "pending" | "confirmed" | "expired" | "failed";

/** One transaction sent (or about to be sent) for a batch: a `blockchain_transactions` row. */
export interface AnchorAttempt {
  /** The batch. */
  readonly batchId: string;
  /** The transaction signature. */
  readonly signature: string;
  /** The memo it carries. */
  readonly memo: string;
  /** Where it stands. */
  readonly status: AnchorAttemptStatus;
  /** Last chain height at which it can land, or `null`. */
  readonly validUntil: number | null;
  /** Slot it landed in (confirmed). */
  readonly slot: number | null;
  /** Fee paid in lamports (confirmed). */
  readonly feeLamports: number | null;
  /** Why it failed or expired. */
  readonly error: string | null;
  /** When it was recorded (before it was sent). */
  readonly createdAt: Date;
  /** When its confirmation was recorded. */
  readonly confirmedAt: Date | null;
  /** The batch's place in the aggregate tree, when the transaction anchors several batches. */
  readonly aggregation: AnchorAggregation | null;
}

/** A batch to anchor or to confirm, with its attempts so far, as {@link AnchorLedger.claimAnchorWork} hands it out. */
export interface AnchorWork {
  /** The batch (`complete`, `blockchain_pending`, or `failed` by anchoring and due for a retry). */
  readonly batch: BatchRecord;
  /** Every attempt of the batch, oldest first. */
  readonly attempts: readonly AnchorAttempt[];
  /** Anchoring failures of the batch so far (for the backoff). */
  readonly failures: number;
}

/** The anchor of a batch as stored: the confirmed transaction, or the one pending. */
export interface BatchAnchor {
  /** The batch. */
  readonly batchId: string;
  /** `blockchain_pending` or `blockchain_confirmed`. */
  readonly status: "blockchain_pending" | "blockchain_confirmed";
  /** `batches.solana_tx_signature`. */
  readonly signature: string;
  /** `batches.solana_block_number` (confirmed only). */
  readonly slot: number | null;
  /** The memo of that transaction. */
  readonly memo: string;
  /** `batches.confirmed_at` (confirmed only). */
  readonly confirmedAt: Date | null;
  /**
   * The batch's place in the aggregate tree whose root the memo (`veep-bridge:v2`) states, when
   * the transaction anchors several batches; `null` for a `veep-bridge:v1` memo.
   */
  readonly aggregation: AnchorAggregation | null;
}

/**
 * The anchoring lifecycle of a store: `complete` → `blockchain_pending` → `blockchain_confirmed`,
 * with every attempt recorded. The PostgreSQL and memory stores implement it; the anchoring
 * worker (`anchorBatches`) drives it.
 *
 * @remarks Contract (checked by `storeConformance` for stores that implement it):
 * 1. `claimAnchorWork()` leases up to `limit` batches that are `complete`, `blockchain_pending`, or
 *    `failed` by anchoring with their retry time passed, to `owner` for `leaseMs`; a batch leased to
 *    another owner is skipped, so several workers never work on the same batch.
 * 2. `recordAnchorAttempt()` records the attempt (`pending`) and moves the batch to
 *    `blockchain_pending` with the signature, in one commit, before the transaction is sent. One
 *    signature may be recorded for several batches (an aggregate), once per batch.
 * 3. `confirmAnchor()` marks the attempt `confirmed` (slot, fee) and the batch
 *    `blockchain_confirmed` (`solana_block_number`, `confirmed_at`, `solana_confirmed`).
 * 4. `resolveAnchorAttempt()` marks an attempt `expired` or `failed`, keeping the reason, for every
 *    batch it anchors.
 * 5. `failAnchor()` moves the batch to `failed` with the reason, counts the failure and sets the
 *    time of the next attempt.
 */
export interface AnchorLedger {
  /** Leases batches due for anchoring work (see the contract). */
  claimAnchorWork(options: {
    readonly owner: string;
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<readonly AnchorWork[]>;
  /** Ends `owner`'s lease of a batch. */
  releaseAnchorWork(batchId: string, owner: string): Promise<void>;
  /**
   * Records an attempt before it is sent; the batch becomes `blockchain_pending`. A transaction
   * that anchors several batches is recorded once per batch, with the same signature and memo and
   * each batch's `aggregation`.
   */
  recordAnchorAttempt(attempt: {
    readonly batchId: string;
    readonly signature: string;
    readonly memo: string;
    readonly validUntil: number | null;
    readonly aggregation?: AnchorAggregation | undefined;
  }): Promise<void>;
  /** Marks an attempt `expired` or `failed` (for every batch it anchors). */
  resolveAnchorAttempt(signature: string, status: "expired" | "failed", error: string): Promise<void>;
  /** Records the confirmation; the batch becomes `blockchain_confirmed`. */
  confirmAnchor(
    batchId: string,
    signature: string,
    confirmation: { readonly slot: number; readonly feeLamports: number },
  ): Promise<void>;
  /** Moves the batch to `failed` with the reason; the next attempt is due at `retryAt`. */
  failAnchor(batchId: string, reason: string, retryAt: Date): Promise<void>;
  /** Every attempt of a batch, oldest first. */
  listAnchorAttempts(batchId: string): Promise<readonly AnchorAttempt[]>;
  /** The batch's anchor (pending or confirmed), or `null`. */
  getAnchor(batchId: string): Promise<BatchAnchor | null>;
  /** Every confirmed anchor with its batch, each once (for `verify --anchors`). */
  listAnchors(): AsyncIterable<AnchoredBatch>;
}

/** `true` when `store` implements {@link AnchorLedger}. */
export function isAnchorLedger(store: unknown): store is AnchorLedger {
  const s = store as Partial<Record<keyof AnchorLedger, unknown>> | null;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.claimAnchorWork === "function" &&
    typeof s.recordAnchorAttempt === "function" &&
    typeof s.confirmAnchor === "function" &&
    typeof s.failAnchor === "function"
  );
}
