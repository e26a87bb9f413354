import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { merkleRootHex, sha256Hasher } from "../../src/adapter.js";
import { bytesToHex, hexToBytes } from "../../src/hashing/index.js";
import { createBridge } from "../../src/index.js";
import { memorySource, memoryStore } from "../../src/memory.js";
import { canonicalJson, type MessageProof, messageHash, verifyInclusion } from "../../src/verify.js";
import { REPO_ROOT } from "../cli/support/process.js";
import { checkWithPython } from "../support/python.js";

const VERIFIER = join(REPO_ROOT, "docs/verifier/verify_proof.py");

/**
 * The verifier needs Python 3.10+. A machine with only Node and npm has none: the suite then skips
 * these tests with a notice, unless VEEP_REQUIRE_PYTHON=1 (CI) makes a missing Python a failure.
 */
if (!checkWithPython) {
  console.warn("python3 ≥ 3.10 not found: skipping the docs/verifier/verify_proof.py tests");
}
const run = promisify(execFile);

/** Runs the Python verifier on `proof` (standard input); resolves with its exit code. */
async function python(proof: unknown, ...trusted: string[]): Promise<number> {
  const child = run("python3", [VERIFIER, "-", ...trusted]);
  child.child.stdin?.end(JSON.stringify(proof));
  try {
    await child;
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

/** Proofs of every message of batches of the given sizes, produced by the bridge and memory store. */
async function projectProofs(sizes: readonly number[]): Promise<MessageProof[]> {
  const source = memorySource();
  const store = memoryStore();
  const bridge = createBridge({ source, store, batch: { maxMessages: 1000, maxAgeMs: 600_000 } });
  await bridge.start();
  const proofs: MessageProof[] = [];
  for (const [b, size] of sizes.entries()) {
    for (let i = 0; i < size; i++) {
      source.publish("veep/factory1/line2/SENSOR_001/data", {
        deviceId: "SENSOR_001",
        timestamp: b * 1000 + i,
        kwh: 15.7,
      });
    }
    await source.whenAllAcknowledged();
    const sealed = await bridge.flush();
    for (const messageId of store.data.leavesByBatch.get(sealed!.batchId) ?? []) {
      proofs.push((await store.getProof(messageId))!);
    }
  }
  await bridge.stop();
  return proofs;
}

describe.skipIf(!checkWithPython)("docs/verifier/verify_proof.py", () => {
  it("accepts every proof the project produces, for trees of 1 to 17 leaves", async () => {
    const proofs = await projectProofs([1, 2, 3, 4, 5, 7, 8, 9, 17]);
    expect(proofs).toHaveLength(56);
    const codes = await Promise.all(proofs.map((p) => python(p, p.root, String(p.treeSize))));
    expect(codes).toEqual(proofs.map(() => 0));
    expect(proofs.every((p) => verifyInclusion(p))).toBe(true);
  });

  it("rejects tampered proofs and roots or sizes that differ from the trusted ones", async () => {
    const proofs = await projectProofs([13]);
    const proof = proofs[5]!;
    const flip = (hex: string) => (hex[0] === "0" ? "1" : "0") + hex.slice(1);
    const tampered: Array<[string, unknown, string[]]> = [
      ["message hash", { ...proof, messageHash: flip(proof.messageHash) }, []],
      ["leaf index", { ...proof, leafIndex: proof.leafIndex + 1 }, []],
      ["tree size below the index", { ...proof, treeSize: proof.leafIndex }, []],
      ["tree size with another shape", { ...proof, treeSize: 64 }, []],
      [
        "audit path entry",
        { ...proof, auditPath: [flip(proof.auditPath[0]!), ...proof.auditPath.slice(1)] },
        [],
      ],
      ["audit path too short", { ...proof, auditPath: proof.auditPath.slice(1) }, []],
      ["audit path too long", { ...proof, auditPath: [...proof.auditPath, proof.auditPath[0]] }, []],
      ["root", { ...proof, root: flip(proof.root) }, []],
      ["algorithm", { ...proof, algorithm: "sha512" }, []],
      ["index as string", { ...proof, leafIndex: String(proof.leafIndex) }, []],
      ["missing field", { ...proof, auditPath: undefined }, []],
      ["untrusted root", proof, ["00".repeat(32)]],
      ["untrusted size", proof, [proof.root, "14"]],
    ];
    for (const [what, candidate, trusted] of tampered) {
      expect(await python(candidate, ...trusted), what).toBe(1);
    }
    expect(await python(proof, proof.root, "13")).toBe(0);
  });
});

describe("docs/hashing.md", () => {
  it("the worked example in docs/hashing.md matches the library, and its proof verifies", async () => {
    const doc = await readFile(join(REPO_ROOT, "docs/hashing.md"), "utf8");
    const payload = {
      deviceId: "SENSOR_001",
      timestamp: 1696156800,
      kwh: 15.7,
      voltage: 220.1,
      current: 71.36,
    };
    const canonical = canonicalJson(payload);
    expect(doc).toContain(canonical);
    expect(doc).toContain(`(${Buffer.byteLength(canonical)} bytes)`);
    expect(doc).toContain(messageHash(payload));
    const example = /```json\n(\{\n {2}"algorithm"[\s\S]*?)```/.exec(doc)?.[1];
    const proof = JSON.parse(example!.replaceAll('"…"', '"x"')) as MessageProof;
    expect(proof.messageHash).toBe(messageHash(payload));
    expect(verifyInclusion(proof, { root: proof.root, treeSize: 3 })).toBe(true);
    const hashes = [0, 1, 2].map((i) => messageHash({ ...payload, timestamp: payload.timestamp + i }));
    expect(merkleRootHex(hashes)).toBe(proof.root);
    for (const hash of hashes) expect(doc).toContain(bytesToHex(sha256Hasher.hashLeaf(hexToBytes(hash))));
    expect(await python(proof, proof.root, "3")).toBe(0);
  });
});
