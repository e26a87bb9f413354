/**
 * Hashing costs, one core: `npx tsx bench/hashing.ts`.
 * Prints figures only; compare rows of the same run, not across machines.
 */
import { createHash, hash as oneShotHash } from "node:crypto";
import {
  canonicalJson,
  hashCanonicalJson,
  IncrementalMerkleTree,
  inclusionProof,
  inclusionProofs,
  merkleRootHex,
  messageHash,
  verifyInclusion,
} from "../src/hashing/index.js";
import type { JsonValue } from "../src/message/types.js";

const SAMPLE_COUNT = 4096;

/** Seed-shaped payloads (seed-data-model §3.2, with the extra fields real meters send), ~420 bytes. */
function payloadText(i: number): string {
  return JSON.stringify({
    deviceId: `SENSOR_${String(i % 1000).padStart(3, "0")}`,
    timestamp: 1678886400 + i,
    kwh: 15.7 + (i % 97) / 10,
    voltage: 220.1 + (i % 13) / 10,
    current: 71.36 + (i % 7) / 100,
    temperature: 32.5 - (i % 11) / 10,
    power_factor: 0.97,
    frequency: 50.01,
    status: "online",
    location: { site: "Plant Zürich-Nord", building: "B2", floor: 3, lat: 47.4108, lon: 8.5446 },
    metadata: {
      firmware_version: "2.1.0",
      signal_strength: -45 - (i % 20),
      uptime_s: 86400 + i,
      battery: 0.87,
      tags: ["meter", "three-phase", "export"],
    },
  });
}

function opsPerSecond(run: (i: number) => unknown, minMs = 400): number {
  for (let i = 0; i < 2000; i++) run(i);
  let operations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let j = 0; j < 1000; j++) run(operations++);
    elapsed = performance.now() - start;
  }
  return (operations / elapsed) * 1000;
}

function timeMs(run: () => unknown, repeat = 3): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const texts = Array.from({ length: SAMPLE_COUNT }, (_, i) => payloadText(i));
const parsed = texts.map((text) => JSON.parse(text) as JsonValue);
const averageBytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / texts.length;
const pick = <T>(items: readonly T[], i: number) => items[i % items.length] as T;

console.log(`\nveep-bridge hashing benchmark — Node ${process.version}, payload ~${fmt(averageBytes)} B\n`);

const messageRows: [string, number][] = [
  [
    "baseline: JSON.parse + JSON.stringify + sha256",
    opsPerSecond((i) => oneShotHash("sha256", JSON.stringify(JSON.parse(pick(texts, i))))),
  ],
  [
    "JSON.parse + canonicalJson + sha256 (messageHash)",
    opsPerSecond((i) => messageHash(JSON.parse(pick(texts, i)) as JsonValue)),
  ],
  ["canonicalJson only (parsed payload)", opsPerSecond((i) => canonicalJson(pick(parsed, i)))],
  ["hashCanonicalJson only (canonical string)", opsPerSecond((i) => hashCanonicalJson(pick(texts, i)))],
  [
    "sha256 of raw bytes, createHash",
    opsPerSecond((i) => createHash("sha256").update(pick(texts, i)).digest()),
  ],
];
console.log("| message hashing | messages/s |\n|---|---:|");
for (const [name, rate] of messageRows) console.log(`| ${name} | ${fmt(rate)} |`);

const leafHashes = Array.from({ length: 100_000 }, (_, i) =>
  createHash("sha256").update(`leaf ${i}`).digest("hex"),
);

console.log(
  "\n| leaves | incremental append, µs/append | incremental build, ms | root() from stack, µs | merkleRootHex rebuild, ms |\n|---:|---:|---:|---:|---:|",
);
for (const size of [1_000, 10_000, 100_000]) {
  const leaves = leafHashes.slice(0, size);
  let tree = new IncrementalMerkleTree();
  const buildMs = timeMs(() => {
    tree = IncrementalMerkleTree.fromMessageHashes(leaves);
  });
  const rootUs = (1000 / opsPerSecond(() => tree.root(), 200)) * 1000;
  const rebuildMs = timeMs(() => merkleRootHex(leaves));
  console.log(
    `| ${fmt(size)} | ${fmt((buildMs * 1000) / size, 2)} | ${fmt(buildMs, 1)} | ${fmt(rootUs, 2)} | ${fmt(rebuildMs, 1)} |`,
  );
}

const batch = leafHashes.slice(0, 1_000);
const root = merkleRootHex(batch);
const proofs = inclusionProofs(batch);
const allProofsMs = timeMs(() => inclusionProofs(batch));
console.log("\n| proofs, 1,000-leaf batch | per second |\n|---|---:|");
console.log(
  `| inclusionProof (one index, tree rebuilt) | ${fmt(opsPerSecond((i) => inclusionProof(batch, i % 1000), 300))} |`,
);
console.log(
  `| inclusionProofs (whole batch at once: ${fmt(allProofsMs, 1)} ms) | ${fmt((1000 / allProofsMs) * 1000)} |`,
);
console.log(
  `| verifyInclusion | ${fmt(opsPerSecond((i) => verifyInclusion(pick(proofs, i), { root, treeSize: 1000 }), 300))} |`,
);
console.log("");
