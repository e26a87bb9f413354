/**
 * `veep-bridge/verify`: what an outside verifier needs, with no database: the canonical JSON and
 * message hash of a payload, inclusion proofs checked against a batch root, and anchor memos
 * (`veep-bridge:v1:…` for one batch, `veep-bridge:v2:…` for an aggregate of several) read and
 * checked against the stored batches.
 *
 * @example
 * ```ts
 * import { messageHash, verifyInclusion } from "veep-bridge/verify";
 * const ok = messageHash(payload) === proof.messageHash &&
 *   verifyInclusion(proof, { root: publishedRoot, treeSize: publishedCount });
 * ```
 *
 * @packageDocumentation
 */

export {
  type AggregateMemoFields,
  type AnchorAggregation,
  type AnchorMemoFields,
  aggregateLeaf,
  aggregateMemo,
  anchorMemo,
  memoMismatch,
  parseAggregateMemo,
  parseAnchorMemo,
} from "./anchoring/memo.js";
export { type AnchorVerification, verifyAnchors } from "./anchoring/verify-anchors.js";
export { canonicalJson } from "./hashing/canonical-json.js";
export { messageHash } from "./hashing/message-hash.js";
export type { InclusionProof } from "./hashing/types.js";
export { verifyInclusion } from "./hashing/verify-inclusion.js";
export type { MessageProof } from "./stores/store.js";
