/**
 * The hash primitives a Merkle tree and message hashing are built from.
 * The default is {@link sha256Hasher} (RFC 9162 with SHA-256); plug another to change algorithm.
 */
export interface Hasher {
  /** Name written into every proof, e.g. `"sha256"`. Verifiers refuse a proof of another algorithm. */
  readonly algorithm: string;
  /** Digest size in bytes (32 for SHA-256). */
  readonly digestLength: number;
  /** Hash of arbitrary bytes, a string meaning its UTF-8 bytes (used for message hashes and the empty tree). */
  digest(data: Uint8Array | string): Uint8Array;
  /** Leaf hash: `H(0x00 ‖ leafInput)` for RFC 9162. */
  hashLeaf(leafInput: Uint8Array): Uint8Array;
  /** Interior node hash: `H(0x01 ‖ left ‖ right)` for RFC 9162. */
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
}

/**
 * Proof that a message hash is leaf `leafIndex` of a tree of `treeSize` leaves with root `root`
 * (RFC 9162 §2.1.3). Verifying it needs nothing else.
 */
export interface InclusionProof {
  /** Hash algorithm ({@link Hasher.algorithm}), e.g. `"sha256"`. */
  readonly algorithm: string;
  /** Lowercase hex message hash (the leaf input). */
  readonly messageHash: string;
  /** Zero-based leaf position in the batch. */
  readonly leafIndex: number;
  /** Number of leaves in the tree (the batch's message count). */
  readonly treeSize: number;
  /** Sibling hashes from the leaf up, lowercase hex. */
  readonly auditPath: readonly string[];
  /** Lowercase hex Merkle root the proof leads to (the batch hash). */
  readonly root: string;
}
