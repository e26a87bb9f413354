import { inclusionProof, merkleRootHex, messageHash, verifyInclusion } from "../../hashing/index.js";
import type { Hasher } from "../../hashing/types.js";
import type { JsonValue } from "../../message/types.js";
import type { BatchStatus, MessageProof } from "../store.js";
import { queryByMessageId } from "./by-message-id.js";
import type { PgQueryable } from "./pg-types.js";
import { LATEST_SIGNATURE_CHECK, storedSignatureProblem } from "./stored-signature.js";
import { isUuid } from "./uuid.js";

const MESSAGE_WITH_LEAVES = `SELECT m.message_id, m.batch_id, m.leaf_index, m.message_hash, m.raw_data::text AS raw_data,
  b.batch_hash, b.message_count, b.status, l.leaf_hashes, l.leaf_count, l.max_leaf,
  m.device_signature, v.is_valid, v.public_key
FROM messages m
JOIN batches b ON b.batch_id = m.batch_id
CROSS JOIN LATERAL (
  SELECT string_agg(x.message_hash, ',' ORDER BY x.leaf_index) AS leaf_hashes,
         count(*) AS leaf_count, max(x.leaf_index) AS max_leaf
  FROM messages x WHERE x.batch_id = m.batch_id
    AND x.received_at >= b.start_timestamp AND x.received_at <= b.end_timestamp
) l
${LATEST_SIGNATURE_CHECK}
WHERE m.message_id = $1`;

interface MessageWithLeavesRow {
  message_id: string;
  batch_id: string;
  leaf_index: number | null;
  message_hash: string;
  raw_data: string;
  batch_hash: string;
  message_count: number;
  status: string;
  leaf_hashes: string | null;
  leaf_count: number;
  max_leaf: number | null;
  device_signature: string | null;
  is_valid: boolean | null;
  public_key: string | null;
}

/** Why `PostgresStore.verifyMessage` (or a batch in whole-database verification) failed. */
export type VerificationFailureReason =
  /** No message with that id (or it has no batch). */
  | "message_not_found"
  /** `raw_data` does not hash (RFC 8785 + hasher) to the stored `message_hash`. */
  | "message_hash_mismatch"
  /** The batch's leaf positions are not 0..n-1, or n differs from `message_count`. */
  | "leaf_positions_invalid"
  /** The Merkle root of the stored leaves differs from the stored `batch_hash`. */
  | "batch_root_mismatch"
  /** The message's inclusion proof does not lead to the stored `batch_hash`. */
  | "proof_invalid"
  /**
   * A stored signature does not check out: a reading recorded as validly signed whose signature
   * does not verify (from `raw_data`) with the key it was checked with, or a `device_signature`
   * that is not the `signature` member of `raw_data`.
   */
  | "signature_invalid";

/** Result of `PostgresStore.verifyMessage`: every check, and which failed. */
export interface MessageVerification {
  /** The message asked about. */
  readonly messageId: string;
  /** `true` when every check passed. */
  readonly ok: boolean;
  /** The checks that failed, in the order listed by {@link VerificationFailureReason}; empty when `ok`. */
  readonly failures: readonly VerificationFailureReason[];
  /** Its batch, when found. */
  readonly batchId: string | null;
  /** Status of its batch (a `pending` batch's root is provisional). */
  readonly batchStatus: BatchStatus | null;
  /** `message_hash` as stored. */
  readonly storedHash: string | null;
  /** Hash recomputed from `raw_data` (`null` if it could not be canonicalised). */
  readonly recomputedHash: string | null;
  /** `batch_hash` as stored. */
  readonly storedRoot: string | null;
  /** Merkle root recomputed from the stored leaves. */
  readonly recomputedRoot: string | null;
  /** Inclusion proof against the stored root, when the message and batch exist. */
  readonly proof: MessageProof | null;
}

/** Recomputes a message hash from stored JSONB text; `null` when that is impossible. */
export function rehash(rawData: string, hasher: Hasher): string | null {
  try {
    return messageHash(JSON.parse(rawData) as JsonValue, hasher);
  } catch {
    return null;
  }
}

async function loadMessage(db: PgQueryable, messageId: string): Promise<MessageWithLeavesRow | null> {
  const rows = await queryByMessageId<MessageWithLeavesRow>(
    db,
    "message_with_leaves",
    MESSAGE_WITH_LEAVES,
    messageId,
  );
  return rows[0] ?? null;
}

function leavesAreContiguous(row: MessageWithLeavesRow): boolean {
  return (
    row.leaf_count === row.message_count && row.max_leaf === row.leaf_count - 1 && row.leaf_index !== null
  );
}

function proofOf(row: MessageWithLeavesRow, hashes: string[], hasher: Hasher): MessageProof | null {
  if (row.leaf_index === null || row.leaf_index >= hashes.length) return null;
  const proof = inclusionProof(hashes, row.leaf_index, hasher);
  return {
    ...proof,
    root: row.batch_hash,
    messageId: row.message_id,
    batchId: row.batch_id,
    batchStatus: row.status as BatchStatus,
  };
}

/**
 * Inclusion proof of a stored message, built from the stored leaves of its batch (one statement,
 * so one snapshot) with `root` = the stored `batch_hash`; `null` for an unknown message.
 */
export async function getProof(
  db: PgQueryable,
  messageId: string,
  hasher: Hasher,
): Promise<MessageProof | null> {
  if (!isUuid(messageId)) return null;
  const row = await loadMessage(db, messageId);
  if (!row) return null;
  return proofOf(row, row.leaf_hashes ? row.leaf_hashes.split(",") : [], hasher);
}

/**
 * Verifies one message end to end: its `raw_data` hashes to its `message_hash`, its batch's leaves
 * are 0..n-1 with n = `message_count`, their root is the stored `batch_hash`, its inclusion
 * proof leads to that root, and its stored signature (if any) checks out.
 */
export async function verifyMessage(
  db: PgQueryable,
  messageId: string,
  hasher: Hasher,
): Promise<MessageVerification> {
  const row = isUuid(messageId) ? await loadMessage(db, messageId) : null;
  if (!row) {
    return {
      messageId,
      ok: false,
      failures: ["message_not_found"],
      batchId: null,
      batchStatus: null,
      storedHash: null,
      recomputedHash: null,
      storedRoot: null,
      recomputedRoot: null,
      proof: null,
    };
  }
  const hashes = row.leaf_hashes ? row.leaf_hashes.split(",") : [];
  const recomputedHash = rehash(row.raw_data, hasher);
  let recomputedRoot: string | null;
  try {
    recomputedRoot = merkleRootHex(hashes, hasher);
  } catch {
    recomputedRoot = null;
  }
  let proof: MessageProof | null;
  try {
    proof = proofOf(row, hashes, hasher);
  } catch {
    proof = null;
  }
  const failures: VerificationFailureReason[] = [];
  if (recomputedHash !== row.message_hash) failures.push("message_hash_mismatch");
  if (!leavesAreContiguous(row)) failures.push("leaf_positions_invalid");
  if (recomputedRoot !== row.batch_hash) failures.push("batch_root_mismatch");
  if (!proof || !verifyInclusion(proof, { root: row.batch_hash, hasher })) failures.push("proof_invalid");
  if (
    (row.device_signature !== null || row.is_valid !== null) &&
    storedSignatureProblem(row, new Map()) !== undefined
  ) {
    failures.push("signature_invalid");
  }
  return {
    messageId,
    ok: failures.length === 0,
    failures,
    batchId: row.batch_id,
    batchStatus: row.status as BatchStatus,
    storedHash: row.message_hash,
    recomputedHash,
    storedRoot: row.batch_hash,
    recomputedRoot,
    proof,
  };
}
