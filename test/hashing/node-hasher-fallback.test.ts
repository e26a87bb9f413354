import * as realCrypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";

describe("createNodeHasher on a runtime without crypto.hash (Node < 20.12)", () => {
  afterEach(() => {
    vi.doUnmock("node:crypto");
    vi.resetModules();
  });

  it("falls back to createHash and produces the same digests, leaves, nodes and roots", async () => {
    vi.resetModules();
    const createHash = vi.fn(realCrypto.createHash);
    vi.doMock("node:crypto", () => ({ ...realCrypto, hash: undefined, createHash }));
    const fallback = await import("../../src/hashing/index.js");
    vi.doUnmock("node:crypto");
    vi.resetModules();
    const oneShot = await import("../../src/hashing/index.js");

    const bytes = new Uint8Array([1, 2, 3]);
    const hex = (h: { digest(d: Uint8Array | string): Uint8Array }, d: Uint8Array | string) =>
      Buffer.from(h.digest(d)).toString("hex");
    createHash.mockClear();
    expect(hex(fallback.sha256Hasher, "€")).toBe(hex(oneShot.sha256Hasher, "€"));
    expect(createHash).toHaveBeenCalledWith("sha256");
    expect(hex(fallback.sha256Hasher, bytes)).toBe(
      realCrypto.createHash("sha256").update(bytes).digest("hex"),
    );
    expect(Buffer.from(fallback.sha256Hasher.hashLeaf(bytes))).toEqual(
      Buffer.from(oneShot.sha256Hasher.hashLeaf(bytes)),
    );
    const hashes = ["a", "b", "c"].map((s) => realCrypto.createHash("sha256").update(s).digest("hex"));
    expect(fallback.merkleRootHex(hashes)).toBe(oneShot.merkleRootHex(hashes));
    expect(fallback.messageHash({ b: 1, a: "x" })).toBe(oneShot.messageHash({ a: "x", b: 1 }));
  });
});
