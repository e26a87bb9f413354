import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createNodeHasher,
  type Hasher,
  IncrementalMerkleTree,
  inclusionProof,
  merkleRootHex,
  messageHash,
  sha256Hasher,
  verifyInclusion,
} from "../../src/hashing/index.js";

/** SHA-512 truncated to 32 bytes, written against the Hasher interface only. */
const sha512Truncated: Hasher = {
  algorithm: "sha512-trunc256",
  digestLength: 32,
  digest: (data) => createHash("sha512").update(data).digest().subarray(0, 32),
  hashLeaf: (input) => createHash("sha512").update(Uint8Array.of(0)).update(input).digest().subarray(0, 32),
  hashChildren: (left, right) =>
    createHash("sha512").update(Uint8Array.of(1)).update(left).update(right).digest().subarray(0, 32),
};

const payloads = Array.from({ length: 9 }, (_, i) => ({ deviceId: `SENSOR_${i}`, kwh: i * 1.5 }));

describe.each([
  ["sha3-256 via createNodeHasher", createNodeHasher("sha3-256")],
  ["SHA-512 truncated, hand-written", sha512Truncated],
])("a custom Hasher (%s)", (_name, hasher) => {
  const hashes = payloads.map((payload) => messageHash(payload, hasher));

  it("changes every message hash and root", () => {
    expect(hashes[0]).not.toBe(messageHash(payloads[0] as (typeof payloads)[0]));
    expect(merkleRootHex(hashes, hasher)).not.toBe(merkleRootHex(hashes, sha256Hasher));
  });

  it("builds the same root incrementally", () => {
    expect(IncrementalMerkleTree.fromMessageHashes(hashes, hasher).rootHex()).toBe(
      merkleRootHex(hashes, hasher),
    );
  });

  it("writes its algorithm into proofs that verify with that hasher only", () => {
    const proof = inclusionProof(hashes, 4, hasher);
    expect(proof.algorithm).toBe(hasher.algorithm);
    expect(verifyInclusion(proof, { hasher, root: merkleRootHex(hashes, hasher) })).toBe(true);
    expect(verifyInclusion(proof)).toBe(false);
    expect(verifyInclusion({ ...proof, algorithm: "sha256" })).toBe(false);
  });
});

describe("createNodeHasher", () => {
  it("derives the digest length from the algorithm", () => {
    expect(createNodeHasher("sha512").digestLength).toBe(64);
    expect(createNodeHasher("sha3-256").digestLength).toBe(32);
  });

  it("throws for an algorithm node:crypto does not know", () => {
    expect(() => createNodeHasher("no-such-hash")).toThrow();
  });
});
