import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bytesToHex,
  hexToBytes,
  IncrementalMerkleTree,
  merkleRoot,
  merkleRootHex,
} from "../../src/hashing/index.js";

function messageHashes(count: number, seed = 0): string[] {
  return Array.from({ length: count }, (_, i) =>
    createHash("sha256").update(`append ${seed}/${i}`).digest("hex"),
  );
}

describe("IncrementalMerkleTree", () => {
  it("starts empty with the root of the empty tree", () => {
    const tree = new IncrementalMerkleTree();
    expect(tree.size).toBe(0);
    expect(tree.rootHex()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("reaches the RFC 9162 reference root of the 8 reference leaf inputs", () => {
    const tree = new IncrementalMerkleTree();
    const leaves = [
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
    ];
    for (const leaf of leaves) tree.appendLeafInput(hexToBytes(leaf));
    expect(tree.rootHex()).toBe("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  });

  it("has the batch root of the same leaves after every append, for sizes 0..300", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.nat(), (size, seed) => {
        const hashes = messageHashes(size, seed);
        const tree = new IncrementalMerkleTree();
        expect(tree.rootHex()).toBe(merkleRootHex([]));
        hashes.forEach((hash, i) => {
          tree.appendMessageHash(hash);
          expect(tree.size).toBe(i + 1);
          expect(tree.rootHex()).toBe(merkleRootHex(hashes.slice(0, i + 1)));
        });
        expect(IncrementalMerkleTree.fromMessageHashes(hashes).rootHex()).toBe(merkleRootHex(hashes));
      }),
      { numRuns: 15 },
    );
  });

  it("accepts arbitrary leaf inputs like merkleRoot does", () => {
    const inputs = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(100).fill(7)];
    const tree = new IncrementalMerkleTree();
    for (const input of inputs) tree.appendLeafInput(input);
    expect(tree.rootHex()).toBe(bytesToHex(merkleRoot(inputs)));
  });

  it("clones independently: appends to the clone leave the original as it was", () => {
    const hashes = messageHashes(13);
    const original = IncrementalMerkleTree.fromMessageHashes(hashes.slice(0, 10));
    const before = original.rootHex();
    const planned = original.clone();
    for (const hash of hashes.slice(10)) planned.appendMessageHash(hash);
    expect(planned.rootHex()).toBe(merkleRootHex(hashes));
    expect(planned.size).toBe(13);
    expect(original.rootHex()).toBe(before);
    expect(original.size).toBe(10);
    original.appendMessageHash(hashes[10] as string);
    expect(planned.rootHex()).toBe(merkleRootHex(hashes));
  });

  it("returns a root the caller may modify without corrupting the tree", () => {
    const tree = IncrementalMerkleTree.fromMessageHashes(messageHashes(4));
    const before = tree.rootHex();
    tree.root().fill(0);
    expect(tree.rootHex()).toBe(before);
  });

  it("refuses a malformed message hash and stays unchanged", () => {
    const tree = IncrementalMerkleTree.fromMessageHashes(messageHashes(3));
    const before = tree.rootHex();
    expect(() => tree.appendMessageHash("abcd")).toThrow(TypeError);
    expect(() => tree.appendMessageHash("g".repeat(64))).toThrow(TypeError);
    expect(tree.size).toBe(3);
    expect(tree.rootHex()).toBe(before);
  });
});
