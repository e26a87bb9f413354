import { inclusionProofs, merkleRootHex } from "../hashing/merkle.js";
import { type AnchorAggregation, type AnchorMemoFields, aggregateLeaf, aggregateMemo } from "./memo.js";

/** One transaction's worth of batches: the `veep-bridge:v2` memo and each batch's path to its root. */
export interface AggregatePlan {
  /** The memo text (`veep-bridge:v2:<batchCount>:<rootHex>`). */
  readonly memo: string;
  /** The aggregate root. */
  readonly root: string;
  /** Each batch's place in the aggregate tree, in the order given. */
  readonly paths: readonly AnchorAggregation[];
}

/**
 * Plans the anchor of several batches in one transaction: the RFC 9162 tree over
 * {@link aggregateLeaf} of each batch, in the order given, its root in a `veep-bridge:v2` memo,
 * and each batch's audit path to that root.
 */
export function planAggregate(batches: readonly AnchorMemoFields[]): AggregatePlan {
  const leaves = batches.map(aggregateLeaf);
  const root = merkleRootHex(leaves);
  const proofs = inclusionProofs(leaves);
  return {
    memo: aggregateMemo({ batchCount: batches.length, root }),
    root,
    paths: proofs.map((proof) => ({
      leafIndex: proof.leafIndex,
      treeSize: proof.treeSize,
      auditPath: proof.auditPath,
    })),
  };
}
