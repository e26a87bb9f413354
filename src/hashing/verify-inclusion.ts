import { hexToBytes, isHexOfLength } from "./hex.js";
import { sha256Hasher } from "./sha256-hasher.js";
import type { Hasher, InclusionProof } from "./types.js";

/** Options of {@link verifyInclusion}. */
export interface VerifyInclusionOptions {
  /**
   * The trusted root (e.g. the anchored batch hash, hex). When given, the proof must lead to it
   * and `proof.root` must equal it.
   */
  readonly root?: string;
  /**
   * The trusted number of leaves (e.g. the anchored batch's message count). When given,
   * `proof.treeSize` must equal it.
   *
   * @remarks The root does not commit to the tree size on its own: some other sizes fold the same
   * audit path the same way (leaf 0 of a 3-leaf tree proves as leaf 0 of a 4-leaf tree), so
   * `proof.treeSize` is only trustworthy when checked against a size from the same trusted source
   * as the root.
   */
  readonly treeSize?: number;
  /**
   * Hasher of the tree; a proof naming another algorithm fails.
   * @defaultValue {@link sha256Hasher}
   */
  readonly hasher?: Hasher;
}

/**
 * Checks an inclusion proof exactly as RFC 9162 §2.1.3.2 specifies: the leaf hash of
 * `proof.messageHash`, folded with `proof.auditPath` along the path that `leafIndex` and
 * `treeSize` dictate, must give `proof.root` (and `options.root` when given). Pass the anchored
 * root and tree size in `options`: the proof's own fields are claims until they match them.
 *
 * @returns `true` when the proof holds; `false` otherwise, never throwing: for a proof of another
 * algorithm than the hasher's, malformed or wrongly sized hex, a negative or non-integer index or
 * size, `leafIndex ≥ treeSize`, an audit path too long or too short, or a root or size that differs
 * from the trusted one.
 * @example
 * ```ts
 * if (!verifyInclusion(proof, { root: batch.batchHash, treeSize: batch.messageCount })) throw new Error("tampered");
 * ```
 */
export function verifyInclusion(proof: InclusionProof, options: VerifyInclusionOptions = {}): boolean {
  try {
    return holds(proof, options ?? {});
  } catch {
    return false;
  }
}

function holds(proof: InclusionProof, options: VerifyInclusionOptions): boolean {
  const hasher = options.hasher ?? sha256Hasher;
  if (!isWellFormed(proof, hasher)) return false;
  const root = hexToBytes(proof.root);
  if (options.root !== undefined) {
    if (!isHexOfLength(options.root, hasher.digestLength)) return false;
    if (!equalBytes(hexToBytes(options.root), root)) return false;
  }
  if (options.treeSize !== undefined && options.treeSize !== proof.treeSize) return false;
  const computed = rootFromAuditPath(proof, hasher);
  return computed !== undefined && equalBytes(computed, root);
}

function isWellFormed(proof: InclusionProof, hasher: Hasher): boolean {
  const size = hasher.digestLength;
  return (
    typeof proof === "object" &&
    proof !== null &&
    proof.algorithm === hasher.algorithm &&
    Number.isSafeInteger(proof.treeSize) &&
    Number.isSafeInteger(proof.leafIndex) &&
    proof.leafIndex >= 0 &&
    proof.leafIndex < proof.treeSize &&
    isHexOfLength(proof.messageHash, size) &&
    isHexOfLength(proof.root, size) &&
    Array.isArray(proof.auditPath) &&
    proof.auditPath.every((hash) => isHexOfLength(hash, size))
  );
}

/** RFC 9162 §2.1.3.2 steps 2–5 without the root comparison; `undefined` when the path does not fit. */
function rootFromAuditPath(proof: InclusionProof, hasher: Hasher): Uint8Array | undefined {
  let fn = proof.leafIndex;
  let sn = proof.treeSize - 1;
  let r = hasher.hashLeaf(hexToBytes(proof.messageHash));
  for (const hex of proof.auditPath) {
    if (sn === 0) return undefined;
    const p = hexToBytes(hex);
    if (fn % 2 === 1 || fn === sn) {
      r = hasher.hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hasher.hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
