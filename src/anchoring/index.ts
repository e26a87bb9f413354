export { type AggregatePlan, planAggregate } from "./aggregate.js";
export {
  type AggregationOptions,
  type AnchorEvent,
  type Anchorer,
  type AnchoringOptions,
  type AnchorPassResult,
  anchorBatches,
} from "./anchorer.js";
export type { BridgeAnchoringOptions } from "./background.js";
export {
  AGGREGATE_MEMO_PREFIX,
  type AggregateMemoFields,
  ANCHOR_MEMO_PREFIX,
  type AnchorAggregation,
  type AnchorMemoFields,
  aggregateLeaf,
  aggregateMemo,
  anchorMemo,
  memoMismatch,
  parseAggregateMemo,
  parseAnchorMemo,
} from "./memo.js";
export {
  type MemoryAnchor,
  type MemoryAnchorOptions,
  type MemoryChainTransaction,
  memoryAnchor,
} from "./memory-anchor.js";
export type {
  Anchor,
  AnchorAttempt,
  AnchorAttemptStatus,
  AnchoredBatch,
  AnchoredTransaction,
  AnchorLedger,
  AnchorRequest,
  AnchorStatus,
  AnchorWork,
  BatchAnchor,
  PreparedAnchor,
} from "./types.js";
export { isAnchorLedger } from "./types.js";
export { type AnchorVerification, verifyAnchors } from "./verify-anchors.js";
