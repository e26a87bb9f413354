/**
 * `veep-bridge/adapter`: what an adapter author needs beyond the root entry: the {@link Source}
 * and {@link Store} contracts (and the {@link AuditReader} a store may add), the open batch that
 * plans appends, the de-duplication rule, the lifecycle guard every store runs behind, the
 * hashers, the Merkle helpers to serve proofs, and the anchoring contracts ({@link Anchor},
 * {@link AnchorLedger}) with the worker that drives them ({@link anchorBatches}).
 * Check an adapter with the suites in `veep-bridge/testing`.
 *
 * @packageDocumentation
 */

export {
  type Anchorer,
  type AnchoringOptions,
  type AnchorPassResult,
  anchorBatches,
} from "./anchoring/anchorer.js";
export {
  AGGREGATE_MEMO_PREFIX,
  ANCHOR_MEMO_PREFIX,
  type AnchorAggregation,
  memoMismatch,
} from "./anchoring/memo.js";
export {
  type Anchor,
  type AnchorAttempt,
  type AnchorAttemptStatus,
  type AnchoredBatch,
  type AnchoredTransaction,
  type AnchorLedger,
  type AnchorRequest,
  type AnchorStatus,
  type AnchorWork,
  type BatchAnchor,
  isAnchorLedger,
  type PreparedAnchor,
} from "./anchoring/types.js";
export type { TimerHandle } from "./batching/clock.js";
export { OpenBatch } from "./bridge/open-batch.js";
export { IncrementalMerkleTree } from "./hashing/incremental-merkle.js";
export { inclusionProof, inclusionProofs, merkleRootHex } from "./hashing/merkle.js";
export { hashCanonicalJson } from "./hashing/message-hash.js";
export { createNodeHasher } from "./hashing/node-hasher.js";
export { sha256Hasher } from "./hashing/sha256-hasher.js";
export type { Hasher } from "./hashing/types.js";
export type { VerifyInclusionOptions } from "./hashing/verify-inclusion.js";
export type { Source, SourceHandlers, SourceMessage, SourceStartContext } from "./sources/source.js";
export { deadLetterKey, duplicateKey, payloadHash } from "./stores/duplicate-key.js";
export { guardStore } from "./stores/guard-store.js";
export {
  type AppendRequest,
  type AppendResult,
  type AuditReader,
  type BatchAppendPlan,
  type BatchLeaf,
  type OpenBatchSnapshot,
  type PlannedLeaf,
  type SealRequest,
  STORE_METHODS,
  type Store,
} from "./stores/store.js";
