import { execFileSync } from "node:child_process";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, expect, inject, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { cleanEnv, runCli, start, TSX } from "./support/process.js";

async function demoDirectories(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith("veep-demo-pg-"));
}

function demoPostgresProcesses(): string[] {
  const ps = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  return ps.split("\n").filter((line) => line.includes("veep-demo-pg-"));
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
  expect(stdout).toMatch(/Demo finished: every batch verifies and the proof holds\./);
  expect(stdout).toMatch(/Cleaned up/);
}

describe("veep-bridge demo", () => {
  it("on a bare machine: starts embedded PostgreSQL and a broker, verifies, prints a proof, leaves nothing behind", async () => {
    const before = await demoDirectories();
    const processesBefore = demoPostgresProcesses();
    const result = await runCli(["demo", "--duration", "3"], cleanEnv());
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
        cleanEnv({ DATABASE_URL: db.url, MQTT_URL: inject("mqttUrl") }),
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
    const demo = start(TSX, ["src/cli/main.ts", "demo", "--duration", "60"], cleanEnv());
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
    const result = await runCli(["demo", "--duration", "3"], cleanEnv({ MQTT_URL: "mqtt://127.0.0.1:9" }));
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
