import { bytesToHex } from "./hex.js";
import { messageHashToLeafInput } from "./leaf-inputs.js";
import { sha256Hasher } from "./sha256-hasher.js";
import type { Hasher } from "./types.js";

/**
 * An append-only RFC 9162 Merkle tree that keeps only the roots of its complete subtrees
 * (one per set bit of its size, largest first), so an append costs O(log n) hashes and the root
 * O(log n) more. Its root always equals {@link merkleRootHex} of the same leaves.
 *
 * @example
 * ```ts
 * const tree = new IncrementalMerkleTree();
 * for (const reading of readings) tree.appendMessageHash(reading.messageHash);
 * const batchHash = tree.rootHex(); // === merkleRootHex(readings.map((r) => r.messageHash))
 * ```
 */
export class IncrementalMerkleTree {
  readonly #hasher: Hasher;
  /** Roots of the complete subtrees, largest (leftmost) first; sizes are the set bits of #size. */
  #subtrees: Uint8Array[];
  #size: number;

  /**
   * An empty tree.
   *
   * @param hasher - Defaults to {@link sha256Hasher}.
   */
  constructor(hasher: Hasher = sha256Hasher) {
    this.#hasher = hasher;
    this.#subtrees = [];
    this.#size = 0;
  }

  /**
   * A tree holding the given message hashes as leaves, in order.
   *
   * @param hasher - Defaults to {@link sha256Hasher}.
   * @throws TypeError when a message hash is not hex of `hasher.digestLength` bytes.
   */
  static fromMessageHashes(hashes: readonly string[], hasher: Hasher = sha256Hasher): IncrementalMerkleTree {
    const tree = new IncrementalMerkleTree(hasher);
    for (const hash of hashes) tree.appendMessageHash(hash);
    return tree;
  }

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** The hasher the tree was built with. */
  get hasher(): Hasher {
    return this.#hasher;
  }

  /**
   * Appends a leaf whose input is the raw bytes of a hex message hash.
   *
   * @throws TypeError when `hex` is not hex of `hasher.digestLength` bytes; the tree is unchanged.
   */
  appendMessageHash(hex: string): void {
    this.appendLeafInput(messageHashToLeafInput(hex, this.#hasher, this.#size));
  }

  /** Appends a leaf with arbitrary leaf input (it is hashed as `hashLeaf(bytes)`). */
  appendLeafInput(bytes: Uint8Array): void {
    let node = this.#hasher.hashLeaf(bytes);
    for (let carry = this.#size; carry % 2 === 1; carry = Math.floor(carry / 2)) {
      node = this.#hasher.hashChildren(this.#subtrees.pop() as Uint8Array, node);
    }
    this.#subtrees.push(node);
    this.#size += 1;
  }

  /** The Merkle Tree Hash of the leaves so far; `hasher.digest` of no bytes when empty. */
  root(): Uint8Array {
    const subtrees = this.#subtrees;
    if (subtrees.length === 0) return this.#hasher.digest(new Uint8Array(0));
    let root: Uint8Array = new Uint8Array(subtrees[subtrees.length - 1] as Uint8Array);
    for (let i = subtrees.length - 2; i >= 0; i--) {
      root = this.#hasher.hashChildren(subtrees[i] as Uint8Array, root);
    }
    return root;
  }

  /** {@link IncrementalMerkleTree.root} as lowercase hex (the `batch_hash`). */
  rootHex(): string {
    return bytesToHex(this.root());
  }

  /**
   * An independent copy, O(log n): appends to either tree do not affect the other (e.g. to plan
   * appends before a commit and keep the original if it fails).
   */
  clone(): IncrementalMerkleTree {
    const copy = new IncrementalMerkleTree(this.#hasher);
    copy.#subtrees = this.#subtrees.slice();
    copy.#size = this.#size;
    return copy;
  }
}
