import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type InclusionProof,
  inclusionProof,
  merkleRootHex,
  sha256Hasher,
  verifyInclusion,
} from "../../src/hashing/index.js";

function messageHashes(count: number, seed = 0): string[] {
  return Array.from({ length: count }, (_, i) =>
    createHash("sha256").update(`reading ${seed}/${i}`).digest("hex"),
  );
}

function flipBit(hex: string, bit: number): string {
  const bytes = Buffer.from(hex, "hex");
  const byte = Math.floor(bit / 8) % bytes.length;
  bytes[byte] = (bytes[byte] as number) ^ (1 << (bit % 8));
  return bytes.toString("hex");
}

/**
 * Side of each audit path element, leaf up, for leaf `index` of `size` leaves, per RFC 9162
 * §2.1.3.1: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) when m < k, else PATH(m - k, D[k:n]) : MTH(D[0:k]).
 */
function sides(index: number, size: number): string[] {
  if (size <= 1) return [];
  let k = 1;
  while (k * 2 < size) k *= 2;
  return index < k ? [...sides(index, k), "right"] : [...sides(index - k, size - k), "left"];
}

const batch = messageHashes(11);
const root = merkleRootHex(batch);
const proofOf7 = inclusionProof(batch, 7);

describe("verifyInclusion (RFC 9162 §2.1.3.2)", () => {
  it("accepts a genuine proof, with or without the anchored root", () => {
    expect(verifyInclusion(proofOf7)).toBe(true);
    expect(verifyInclusion(proofOf7, { root })).toBe(true);
    expect(verifyInclusion(proofOf7, { root: root.toUpperCase() })).toBe(true);
  });

  it("accepts the single-leaf tree, whose audit path is empty", () => {
    const proof = inclusionProof(batch.slice(0, 1), 0);
    expect(proof.auditPath).toEqual([]);
    expect(verifyInclusion(proof)).toBe(true);
  });

  it("refuses a proof whose root differs from the anchored root", () => {
    expect(verifyInclusion(proofOf7, { root: merkleRootHex(messageHashes(11, 1)) })).toBe(false);
    expect(verifyInclusion(proofOf7, { root: "not hex" })).toBe(false);
  });

  it("refuses a proof rebuilt to lead to a forged root when checked against the anchored one", () => {
    const forgedBatch = [...batch];
    forgedBatch[7] = messageHashes(1, 99)[0] as string;
    const forged = inclusionProof(forgedBatch, 7);
    expect(verifyInclusion(forged)).toBe(true);
    expect(verifyInclusion(forged, { root })).toBe(false);
  });

  it("refuses a flipped bit anywhere in the message hash, the root or any audit path element", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.nat(), fc.nat(), (size, index, bit) => {
        const hashes = messageHashes(size, size);
        const proof = inclusionProof(hashes, index % size);
        const tampered: InclusionProof[] = [
          { ...proof, messageHash: flipBit(proof.messageHash, bit) },
          { ...proof, root: flipBit(proof.root, bit) },
          ...proof.auditPath.map((_, at) => ({
            ...proof,
            auditPath: proof.auditPath.map((hash, i) => (i === at ? flipBit(hash, bit) : hash)),
          })),
        ];
        for (const bad of tampered) expect(verifyInclusion(bad)).toBe(false);
        expect(
          verifyInclusion({ ...proof, messageHash: flipBit(proof.messageHash, bit) }, { root: proof.root }),
        ).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it("refuses a wrong leaf index", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.nat(), fc.nat(), (size, index, other) => {
        const proof = inclusionProof(messageHashes(size, size), index % size);
        const wrongIndex = other % size === proof.leafIndex ? (proof.leafIndex + 1) % size : other % size;
        expect(verifyInclusion({ ...proof, leafIndex: wrongIndex })).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it("refuses a wrong tree size unless it folds the path identically, and always against the trusted size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 400 }),
        (size, index, wrong) => {
          const proof = inclusionProof(messageHashes(size, size), index % size);
          if (wrong === size || proof.leafIndex >= wrong) return;
          const claimed = { ...proof, treeSize: wrong };
          const sameFold = sides(proof.leafIndex, wrong).join() === sides(proof.leafIndex, size).join();
          expect(verifyInclusion(claimed)).toBe(sameFold);
          expect(verifyInclusion(claimed, { root: proof.root, treeSize: size })).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("shows the size ambiguity RFC 9162 leaves to the trusted tree size: leaf 0 of 3 proves as leaf 0 of 4", () => {
    const proof = inclusionProof(batch.slice(0, 3), 0);
    expect(verifyInclusion({ ...proof, treeSize: 4 })).toBe(true);
    expect(verifyInclusion({ ...proof, treeSize: 4 }, { treeSize: 3 })).toBe(false);
    expect(verifyInclusion(proof, { treeSize: 3 })).toBe(true);
  });

  it("refuses an index at or beyond the tree size", () => {
    expect(verifyInclusion({ ...proofOf7, leafIndex: 11 })).toBe(false);
    expect(verifyInclusion({ ...proofOf7, treeSize: 7 })).toBe(false);
  });

  it("refuses an audit path with an element added or removed", () => {
    expect(verifyInclusion({ ...proofOf7, auditPath: proofOf7.auditPath.slice(1) })).toBe(false);
    expect(verifyInclusion({ ...proofOf7, auditPath: [...proofOf7.auditPath, proofOf7.root] })).toBe(false);
  });

  it("refuses a proof naming another algorithm than the hasher's", () => {
    expect(verifyInclusion({ ...proofOf7, algorithm: "sha3-256" })).toBe(false);
    expect(verifyInclusion({ ...proofOf7, algorithm: "SHA256" })).toBe(false);
  });

  it.each<[string, Partial<Record<keyof InclusionProof, unknown>>]>([
    ["a negative index", { leafIndex: -1 }],
    ["a fractional index", { leafIndex: 6.5 }],
    ["a NaN index", { leafIndex: Number.NaN }],
    ["a string index", { leafIndex: "7" }],
    ["a zero tree size", { treeSize: 0, leafIndex: 0 }],
    ["an unsafe tree size", { treeSize: 2 ** 60 }],
    ["a short message hash", { messageHash: proofOf7.messageHash.slice(2) }],
    ["a non-hex message hash", { messageHash: `zz${proofOf7.messageHash.slice(2)}` }],
    ["a 64-byte root", { root: proofOf7.root.repeat(2) }],
    ["a malformed path element", { auditPath: ["xyz", ...proofOf7.auditPath.slice(1)] }],
    ["a path that is not an array", { auditPath: "deadbeef" }],
    ["a missing message hash", { messageHash: undefined }],
  ])("returns false, without throwing, for %s", (_name, change) => {
    const malformed = { ...proofOf7, ...change } as unknown as InclusionProof;
    expect(() => verifyInclusion(malformed)).not.toThrow();
    expect(verifyInclusion(malformed)).toBe(false);
  });

  it("returns false for something that is not a proof at all, or for unusable options", () => {
    expect(verifyInclusion(null as unknown as InclusionProof)).toBe(false);
    expect(verifyInclusion(proofOf7, null as unknown as undefined)).toBe(true);
    const throwingHasher = {
      ...sha256Hasher,
      hashLeaf: () => {
        throw new Error("broken hasher");
      },
    };
    expect(verifyInclusion(proofOf7, { hasher: throwingHasher })).toBe(false);
  });
});
