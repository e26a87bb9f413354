import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  auditPath,
  bytesToHex,
  hexToBytes,
  inclusionProof,
  inclusionProofs,
  merkleRoot,
  merkleRootHex,
  verifyInclusion,
} from "../../src/hashing/index.js";

/** RFC 9162 / certificate-transparency reference leaf inputs. */
const referenceLeaves = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map(hexToBytes);

function messageHashes(count: number, seed = 0): string[] {
  return Array.from({ length: count }, (_, i) =>
    createHash("sha256").update(`message ${seed}/${i}`).digest("hex"),
  );
}

/** Straight transcription of RFC 9162 §2.1.1 MTH, recursive, as an independent oracle. */
function referenceRoot(leaves: readonly Uint8Array[]): string {
  const sha = (...parts: Uint8Array[]) => {
    const hash = createHash("sha256");
    for (const part of parts) hash.update(part);
    return hash.digest();
  };
  const mth = (d: readonly Uint8Array[]): Uint8Array => {
    if (d.length === 0) return sha();
    if (d.length === 1) return sha(Uint8Array.of(0), d[0] as Uint8Array);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return sha(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k)));
  };
  return bytesToHex(mth(leaves));
}

describe("merkleRoot (RFC 9162 §2.1.1)", () => {
  it("gives SHA-256 of nothing for the empty tree", () => {
    expect(bytesToHex(merkleRoot([]))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(merkleRootHex([])).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("matches the reference roots of the first 3 and of all 8 leaves", () => {
    expect(bytesToHex(merkleRoot(referenceLeaves.slice(0, 3)))).toBe(
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    );
    expect(bytesToHex(merkleRoot(referenceLeaves))).toBe(
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    );
  });

  it("splits at the largest power of two below n, never duplicating the last leaf", () => {
    for (let size = 1; size <= 70; size++) {
      const hashes = messageHashes(size, size);
      expect(merkleRootHex(hashes)).toBe(referenceRoot(hashes.map(hexToBytes)));
    }
  });

  it("uses the 32 raw bytes of each message hash as the leaf input", () => {
    const [hash] = messageHashes(1);
    const leafHash = createHash("sha256")
      .update(Buffer.concat([Buffer.of(0), Buffer.from(hash as string, "hex")]))
      .digest("hex");
    expect(merkleRootHex([hash as string])).toBe(leafHash);
  });

  it("refuses a message hash that is not 64 hex characters", () => {
    const hashes = messageHashes(3);
    expect(() => merkleRootHex([...hashes, "abc"])).toThrow(/position 3/);
    expect(() => merkleRootHex([...hashes, `${"zz"}${(hashes[0] as string).slice(2)}`])).toThrow(TypeError);
  });
});

describe("auditPath (RFC 9162 §2.1.3.1)", () => {
  it.each([
    [0, 1, []],
    [
      0,
      8,
      [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
      ],
    ],
    [
      5,
      8,
      [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      ],
    ],
    [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
    [
      1,
      5,
      [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      ],
    ],
  ])(
    "matches the certificate-transparency reference path of leaf %i in a tree of %i",
    (index, size, path) => {
      expect(auditPath(referenceLeaves.slice(0, size), index).map(bytesToHex)).toEqual(path);
    },
  );

  it.each([-1, 3, 1.5, Number.NaN])("throws a RangeError for leaf index %s of 3", (index) => {
    expect(() => auditPath(referenceLeaves.slice(0, 3), index)).toThrow(RangeError);
  });
});

describe("inclusionProof", () => {
  it("describes the leaf, the tree and the root in lowercase hex", () => {
    const hashes = messageHashes(5).map((hash) => hash.toUpperCase());
    const proof = inclusionProof(hashes, 3);
    expect(proof).toMatchObject({
      algorithm: "sha256",
      messageHash: (hashes[3] as string).toLowerCase(),
      leafIndex: 3,
      treeSize: 5,
      root: merkleRootHex(hashes),
    });
    expect(proof.auditPath).toHaveLength(3);
    expect(proof.auditPath.every((hash) => /^[0-9a-f]{64}$/.test(hash))).toBe(true);
  });

  it("throws a RangeError for an index outside the batch", () => {
    expect(() => inclusionProof(messageHashes(4), 4)).toThrow(RangeError);
    expect(() => inclusionProof([], 0)).toThrow(RangeError);
  });

  it("equals the proofs inclusionProofs builds for the whole batch at once", () => {
    const hashes = messageHashes(37);
    expect(inclusionProofs(hashes)).toEqual(hashes.map((_, index) => inclusionProof(hashes, index)));
    expect(inclusionProofs([])).toEqual([]);
  });

  it("gives a proof that verifies for every index of every tree size 1..300", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (size, seed) => {
        const hashes = messageHashes(size, seed);
        const root = merkleRootHex(hashes);
        const proofs = inclusionProofs(hashes);
        for (const proof of proofs) expect(verifyInclusion(proof, { root })).toBe(true);
        const sampled = seed % size;
        expect(inclusionProof(hashes, sampled)).toEqual(proofs[sampled]);
      }),
      { numRuns: 60 },
    );
  });
});
