import { createHash } from "node:crypto";
import { InvalidOptionError } from "../errors.js";
import { verifyInclusion } from "../hashing/verify-inclusion.js";

/** The prefix and version of the memo text an anchor writes: `veep-bridge:v1:`. */
export const ANCHOR_MEMO_PREFIX = "veep-bridge:v1:";

/** What an anchor memo states: a batch, its message count and its RFC 9162 Merkle root. */
export interface AnchorMemoFields {
  /** Batch UUID (lower case). */
  readonly batchId: string;
  /** Number of messages (leaves) of the batch. */
  readonly messageCount: number;
  /** Hex Merkle root of the batch (`batches.batch_hash`, 64 lower-case hex digits). */
  readonly root: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROOT = /^[0-9a-f]{64}$/;
const MEMO = /^veep-bridge:v1:([0-9a-f-]{36}):([1-9][0-9]{0,15}):([0-9a-f]{64})$/;

/**
 * The memo text that anchors a batch: `veep-bridge:v1:<batchId>:<messageCount>:<rootHex>`, ASCII,
 * 117 bytes plus the digits of the count (docs/anchoring.md).
 * @throws `InvalidOptionError` when a field is not a UUID, a positive integer or 64 hex digits.
 * @example
 * ```ts
 * anchorMemo({ batchId, messageCount: 1000, root: batch.batchHash });
 * // "veep-bridge:v1:5b0c…:1000:9f86d0…"
 * ```
 */
export function anchorMemo(fields: AnchorMemoFields): string {
  const batchId = fields.batchId.toLowerCase();
  const root = fields.root.toLowerCase();
  if (!UUID.test(batchId)) throw new InvalidOptionError("batchId", "must be a UUID");
  if (!Number.isSafeInteger(fields.messageCount) || fields.messageCount < 1)
    throw new InvalidOptionError("messageCount", "must be a positive integer");
  if (!ROOT.test(root)) throw new InvalidOptionError("root", "must be 64 hex digits");
  return `${ANCHOR_MEMO_PREFIX}${batchId}:${fields.messageCount}:${root}`;
}

/** Reads a memo written by {@link anchorMemo}; `null` when the text is not one (another format or version). */
export function parseAnchorMemo(text: string): AnchorMemoFields | null {
  const match = MEMO.exec(text);
  if (!match || !UUID.test(match[1]!)) return null;
  return { batchId: match[1]!, messageCount: Number(match[2]), root: match[3]! };
}

/**
 * Whether `memo` anchors exactly this batch, count and root: a `veep-bridge:v1` memo naming them,
 * or a `veep-bridge:v2` memo whose root `aggregation` leads the batch to. Returns the mismatch in
 * words, or `null` when it matches.
 */
export function memoMismatch(
  memo: string | null,
  expected: AnchorMemoFields,
  aggregation: AnchorAggregation | null = null,
): string | null {
  if (memo === null) return "the transaction carries no veep-bridge memo";
  const aggregate = parseAggregateMemo(memo);
  if (aggregate) return aggregateMismatch(aggregate, expected, aggregation);
  const fields = parseAnchorMemo(memo);
  if (!fields) return `the memo is not a veep-bridge anchor: ${JSON.stringify(memo.slice(0, 200))}`;
  if (fields.batchId !== expected.batchId.toLowerCase())
    return `the memo names batch ${fields.batchId}, not ${expected.batchId}`;
  if (fields.messageCount !== expected.messageCount)
    return `the memo states ${fields.messageCount} messages, the database ${expected.messageCount}`;
  if (fields.root !== expected.root.toLowerCase())
    return `the memo states root ${fields.root}, the database ${expected.root}`;
  return null;
}

/** The prefix and version of the memo that anchors several batches at once: `veep-bridge:v2:`. */
export const AGGREGATE_MEMO_PREFIX = "veep-bridge:v2:";

/** What an aggregate memo states: how many batches, and the RFC 9162 root over their leaves. */
export interface AggregateMemoFields {
  /** Number of batches anchored (leaves of the aggregate tree). */
  readonly batchCount: number;
  /** Hex root of the aggregate tree (64 lower-case hex digits). */
  readonly root: string;
}

/**
 * Where one batch sits in an aggregate anchor: its leaf in the tree whose root the `veep-bridge:v2`
 * memo states. The leaf input is {@link aggregateLeaf} of the batch.
 */
export interface AnchorAggregation {
  /** Position of the batch's leaf (0-based). */
  readonly leafIndex: number;
  /** Number of leaves: the batches the transaction anchors. */
  readonly treeSize: number;
  /** RFC 9162 audit path from the batch's leaf to the aggregate root, hex. */
  readonly auditPath: readonly string[];
}

const AGGREGATE = /^veep-bridge:v2:([1-9][0-9]{0,8}):([0-9a-f]{64})$/;

/**
 * The memo text that anchors several batches in one transaction:
 * `veep-bridge:v2:<batchCount>:<rootHex>`, where the root is the RFC 9162 Merkle root whose leaf
 * inputs are {@link aggregateLeaf} of each batch, in the order of the transaction's batches.
 * @throws `InvalidOptionError` when the count is not a positive integer or the root not 64 hex digits.
 */
export function aggregateMemo(fields: AggregateMemoFields): string {
  const root = fields.root.toLowerCase();
  if (!Number.isSafeInteger(fields.batchCount) || fields.batchCount < 1 || fields.batchCount > 999_999_999)
    throw new InvalidOptionError("batchCount", "must be a positive integer");
  if (!ROOT.test(root)) throw new InvalidOptionError("root", "must be 64 hex digits");
  return `${AGGREGATE_MEMO_PREFIX}${fields.batchCount}:${root}`;
}

/** Reads a memo written by {@link aggregateMemo}; `null` when the text is not one. */
export function parseAggregateMemo(text: string): AggregateMemoFields | null {
  const match = AGGREGATE.exec(text);
  return match ? { batchCount: Number(match[1]), root: match[2]! } : null;
}

/**
 * The leaf input of a batch in an aggregate tree: the 32 bytes of SHA-256 over the batch's own
 * `veep-bridge:v1` memo text (ASCII), as hex. So the aggregate root commits to each batch's id,
 * message count and root, exactly as a `v1` memo would.
 */
export function aggregateLeaf(fields: AnchorMemoFields): string {
  return createHash("sha256").update(anchorMemo(fields), "ascii").digest("hex");
}

/**
 * Whether the `veep-bridge:v2` memo `memo` anchors this batch through `aggregation`: the batch's
 * leaf, folded with the audit path, gives the memo's root with the memo's batch count. Returns the
 * mismatch in words, or `null` when it holds.
 */
function aggregateMismatch(
  memo: AggregateMemoFields,
  expected: AnchorMemoFields,
  aggregation: AnchorAggregation | null,
): string | null {
  if (aggregation === null)
    return "the memo anchors several batches, and the database keeps no path from this batch to its root";
  if (aggregation.treeSize !== memo.batchCount)
    return `the memo anchors ${memo.batchCount} batches, the database says ${aggregation.treeSize}`;
  const holds = verifyInclusion(
    {
      algorithm: "sha256",
      messageHash: aggregateLeaf(expected),
      leafIndex: aggregation.leafIndex,
      treeSize: aggregation.treeSize,
      auditPath: [...aggregation.auditPath],
      root: memo.root,
    },
    { root: memo.root, treeSize: memo.batchCount },
  );
  return holds
    ? null
    : `the batch's id, count and root (${expected.messageCount} messages, root ${expected.root}) do not lead to the anchored root ${memo.root}`;
}
