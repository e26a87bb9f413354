import * as crypto from "node:crypto";
import type { Hasher } from "./types.js";

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

type Digest = (data: Uint8Array | string) => Uint8Array;

function digestFunction(algorithm: string): Digest {
  if (typeof crypto.hash === "function" && oneShotGivesBytes(algorithm)) {
    // A string result comes back about twice as fast as a Buffer one for digests this small.
    return (data) => Buffer.from(crypto.hash(algorithm, data, "binary"), "binary");
  }
  return (data) => crypto.createHash(algorithm).update(data).digest();
}

function oneShotGivesBytes(algorithm: string): boolean {
  try {
    return crypto.hash(algorithm, "", "buffer") instanceof Uint8Array;
  } catch {
    return false;
  }
}

/**
 * An RFC 9162 {@link Hasher} over any digest `node:crypto` knows (`"sha256"`, `"sha3-256"`,
 * `"sha512-256"`, …): leaf = `H(0x00 ‖ input)`, node = `H(0x01 ‖ left ‖ right)`.
 *
 * @remarks Uses the one-shot `crypto.hash` when the runtime has it (Node ≥ 20.12), otherwise
 * `crypto.createHash`. Strings given to `digest` are hashed as their UTF-8 bytes.
 * @param algorithm - A `node:crypto` hash name; it is also the name written into proofs.
 * @throws Error when `node:crypto` does not support `algorithm`.
 * @example
 * ```ts
 * const sha3 = createNodeHasher("sha3-256");
 * const root = merkleRootHex([messageHash(payload, sha3)], sha3);
 * ```
 */
export function createNodeHasher(algorithm: string): Hasher {
  const digest = digestFunction(algorithm);
  const digestLength = digest(new Uint8Array(0)).byteLength;
  // Hashing is synchronous, so one scratch buffer serves every call (no allocation per node).
  const scratch = new Uint8Array(1 + 2 * digestLength);
  const prefixed = (prefix: number, first: Uint8Array, second?: Uint8Array): Uint8Array => {
    const length = 1 + first.byteLength + (second?.byteLength ?? 0);
    const buffer = length <= scratch.byteLength ? scratch.subarray(0, length) : new Uint8Array(length);
    buffer[0] = prefix;
    buffer.set(first, 1);
    if (second) buffer.set(second, 1 + first.byteLength);
    return buffer;
  };
  return {
    algorithm,
    digestLength,
    digest,
    hashLeaf: (leafInput) => digest(prefixed(LEAF_PREFIX, leafInput)),
    hashChildren: (left, right) => digest(prefixed(NODE_PREFIX, left, right)),
  };
}
