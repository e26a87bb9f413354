import { bytesToHex } from "./hex.js";
import { messageHashesToLeafInputs } from "./leaf-inputs.js";
import { sha256Hasher } from "./sha256-hasher.js";
import type { Hasher, InclusionProof } from "./types.js";

/**
 * All levels of the RFC 9162 tree over some leaf hashes, leaves first, root level last.
 * Pairing neighbours level by level and carrying a lone last node up unchanged builds exactly the
 * tree of RFC 9162 §2.1.1 (split at the largest power of two smaller than n).
 */
function treeLevels(leafHashes: Uint8Array[], hasher: Hasher): Uint8Array[][] {
  const levels = [leafHashes];
  let level = leafHashes;
  while (level.length > 1) {
    const parents: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      parents.push(hasher.hashChildren(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    }
    if (level.length % 2 === 1) parents.push(level[level.length - 1] as Uint8Array);
    levels.push(parents);
    level = parents;
  }
  return levels;
}

function pathInLevels(levels: readonly Uint8Array[][], leafIndex: number): Uint8Array[] {
  const path: Uint8Array[] = [];
  let index = leafIndex;
  for (let depth = 0; depth < levels.length - 1; depth++) {
    const level = levels[depth] as Uint8Array[];
    const sibling = index % 2 === 1 ? index - 1 : index + 1;
    if (sibling < level.length) path.push(level[sibling] as Uint8Array);
    index = Math.floor(index / 2);
  }
  return path;
}

function checkLeafIndex(leafIndex: number, treeSize: number): void {
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= treeSize) {
    throw new RangeError(`leafIndex must be an integer in [0, ${treeSize}), got ${leafIndex}`);
  }
}

/**
 * Merkle Tree Hash (RFC 9162 §2.1.1) of some leaf inputs: leaf = `hashLeaf(input)`, node =
 * `hashChildren(left, right)`, the tree of n leaves split at the largest power of two below n.
 * The empty tree's root is `hasher.digest` of no bytes.
 *
 * @param hasher - Defaults to {@link sha256Hasher}.
 * @example
 * ```ts
 * bytesToHex(merkleRoot([new Uint8Array([0x00]), new Uint8Array([0x10])]));
 * ```
 */
export function merkleRoot(leafInputs: readonly Uint8Array[], hasher: Hasher = sha256Hasher): Uint8Array {
  if (leafInputs.length === 0) return hasher.digest(new Uint8Array(0));
  const levels = treeLevels(
    leafInputs.map((input) => hasher.hashLeaf(input)),
    hasher,
  );
  return (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
}

/**
 * The `batch_hash`: lowercase hex Merkle root over a batch's message hashes in batch order, each
 * leaf input being the raw bytes of one hex message hash.
 *
 * @param hasher - Defaults to {@link sha256Hasher}.
 * @throws TypeError when a message hash is not hex of `hasher.digestLength` bytes.
 * @example
 * ```ts
 * const batchHash = merkleRootHex(readings.map((r) => r.messageHash));
 * ```
 */
export function merkleRootHex(messageHashes: readonly string[], hasher: Hasher = sha256Hasher): string {
  return bytesToHex(merkleRoot(messageHashesToLeafInputs(messageHashes, hasher), hasher));
}

/**
 * Audit path (RFC 9162 §2.1.3.1) of leaf `leafIndex`: the sibling hashes from the leaf up to the
 * root.
 *
 * @param hasher - Defaults to {@link sha256Hasher}.
 * @throws RangeError when `leafIndex` is not an integer in `[0, leafInputs.length)`.
 */
export function auditPath(
  leafInputs: readonly Uint8Array[],
  leafIndex: number,
  hasher: Hasher = sha256Hasher,
): Uint8Array[] {
  checkLeafIndex(leafIndex, leafInputs.length);
  const levels = treeLevels(
    leafInputs.map((input) => hasher.hashLeaf(input)),
    hasher,
  );
  return pathInLevels(levels, leafIndex);
}

/**
 * Inclusion proof (RFC 9162 §2.1.3) that `messageHashes[leafIndex]` is in the batch whose root
 * is {@link merkleRootHex}`(messageHashes)`. Verify it with `verifyInclusion` (from `veep-bridge`).
 *
 * @remarks Costs O(n) hashing; for the proofs of a whole batch use {@link inclusionProofs}.
 * @param hasher - Defaults to {@link sha256Hasher}; its `algorithm` is written into the proof.
 * @throws RangeError when `leafIndex` is not an integer in `[0, messageHashes.length)`.
 * @throws TypeError when a message hash is not hex of `hasher.digestLength` bytes.
 * @example
 * ```ts
 * const proof = inclusionProof(batchMessageHashes, 3);
 * verifyInclusion(proof, { root: anchoredBatchHash }); // true
 * ```
 */
export function inclusionProof(
  messageHashes: readonly string[],
  leafIndex: number,
  hasher: Hasher = sha256Hasher,
): InclusionProof {
  checkLeafIndex(leafIndex, messageHashes.length);
  return proofsOf(messageHashes, [leafIndex], hasher)[0] as InclusionProof;
}

/**
 * Inclusion proofs of every message of a batch, in batch order, building the tree once
 * (O(n) hashing in all).
 *
 * @param hasher - Defaults to {@link sha256Hasher}.
 * @throws TypeError when a message hash is not hex of `hasher.digestLength` bytes.
 */
export function inclusionProofs(
  messageHashes: readonly string[],
  hasher: Hasher = sha256Hasher,
): InclusionProof[] {
  return proofsOf(
    messageHashes,
    messageHashes.map((_, index) => index),
    hasher,
  );
}

function proofsOf(
  messageHashes: readonly string[],
  leafIndexes: readonly number[],
  hasher: Hasher,
): InclusionProof[] {
  if (messageHashes.length === 0) return [];
  const leafInputs = messageHashesToLeafInputs(messageHashes, hasher);
  const levels = treeLevels(
    leafInputs.map((input) => hasher.hashLeaf(input)),
    hasher,
  );
  const root = bytesToHex((levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array);
  return leafIndexes.map((leafIndex) => ({
    algorithm: hasher.algorithm,
    messageHash: (messageHashes[leafIndex] as string).toLowerCase(),
    leafIndex,
    treeSize: messageHashes.length,
    auditPath: pathInLevels(levels, leafIndex).map(bytesToHex),
    root,
  }));
}
