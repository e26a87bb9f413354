import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, queryRows, type TestDatabase } from "../support/database.js";
import { forgetSession } from "./support/mqtt-session.js";
import { cleanEnv, runCli, start, TSX } from "./support/process.js";

interface ProofJson {
  messageId: string;
  batchId: string;
  messageHash: string;
  leafIndex: number;
  treeSize: number;
  auditPath: string[];
  root: string;
}

describe("veep-bridge against PostgreSQL", () => {
  let db: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const tenant = `cli${randomBytes(3).toString("hex")}`;

  beforeAll(async () => {
    db = await createTestDatabase("vb_cli");
    dir = await mkdtemp(join(tmpdir(), "veep-cli-"));
    env = cleanEnv({ DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    queryRows<T>(db.url, sql, params);

  it("migrate --seed applies the migrations and the sample devices; a second run is a no-op", async () => {
    const first = await runCli(["migrate", "--seed"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 001_initial_schema\.sql[\s\S]*applied 002_seed_data\.sql/);
    expect(await query("SELECT device_id FROM devices ORDER BY device_id")).toHaveLength(3);
    const second = await runCli(["migrate"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/database is up to date/);
  });

  it("run --json --config: stores, rejects, seals, and drains on SIGTERM with exit 0", async () => {
    const config = join(dir, "bridge.json");
    await writeFile(
      config,
      JSON.stringify({
        databaseUrl: db.url,
        mqtt: { url: inject("mqttUrl"), clientId: `cli-run-${tenant}`, topic: `veep/${tenant}/#` },
        batch: { maxMessages: 10 },
      }),
    );
    const bridge = start(
      TSX,
      ["src/cli/main.ts", "run", "--json", "--config", config, "--seal-on-exit"],
      env,
    );
    await bridge.waitForOutput(/"event":"started"/);
    const devices = await connectAsync(inject("mqttUrl"), { clientId: `cli-pub-${tenant}` });
    for (let i = 0; i < 25; i++) {
      const payload = { deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: 15.7 + i };
      await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, JSON.stringify(payload), { qos: 1 });
    }
    await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, "not json", { qos: 1 });
    await devices.endAsync();
    await bridge.waitForOutput(/"event":"rejected"/);
    const deadline = Date.now() + 20_000;
    while ((await query("SELECT 1 FROM messages")).length < 25 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    bridge.child.kill("SIGTERM");
    const { code } = await bridge.exited;
    await forgetSession(inject("mqttUrl"), `cli-run-${tenant}`);
    expect(code, bridge.stderr()).toBe(0);
    const events = bridge
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; reason?: string; messageCount?: number });
    const names = events.map((e) => e.event);
    expect(names).toEqual(
      expect.arrayContaining(["connecting", "started", "rejected", "batch:sealed", "stopping", "exit"]),
    );
    expect(events.find((e) => e.event === "rejected")?.reason).toBe("invalid_json");
    expect(events.filter((e) => e.event === "batch:sealed").map((e) => e.messageCount)).toEqual([10, 10, 5]);
    expect(JSON.stringify(events)).not.toContain("postgres:postgres@");
    expect(await query("SELECT status FROM batches WHERE status <> 'complete'")).toHaveLength(0);
  });

  it("verify exits 0 when every hash and root matches", async () => {
    const text = await runCli(["verify"], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/verified 3 batch\(es\), 25 message\(s\)/);
    const json = await runCli(["verify", "--all", "--json"], env);
    expect(json.code).toBe(0);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ok: boolean; batches?: number });
    expect(lines.at(-1)).toMatchObject({ ok: true, batches: 3, messages: 25 });
  });

  it("proof prints a JSON proof that verify-proof accepts, and rejects when tampered or against another root", async () => {
    const [row] = await query<{
      message_id: string;
      raw_data: unknown;
      batch_hash: string;
      message_count: number;
    }>(
      "SELECT m.message_id, m.raw_data, b.batch_hash, b.message_count FROM messages m JOIN batches b USING (batch_id) WHERE m.leaf_index = 3 LIMIT 1",
    );
    const printed = await runCli(["proof", row!.message_id], env);
    expect(printed.code, printed.stderr).toBe(0);
    const proof = JSON.parse(printed.stdout) as ProofJson;
    expect(proof).toMatchObject({
      messageId: row!.message_id,
      leafIndex: 3,
      treeSize: row!.message_count,
      root: row!.batch_hash,
    });
    const file = join(dir, "proof.json");
    await writeFile(file, printed.stdout);
    const payload = join(dir, "reading.json");
    await writeFile(payload, JSON.stringify(row!.raw_data));

    const good = await runCli([
      "verify-proof",
      file,
      "--root",
      row!.batch_hash,
      "--tree-size",
      String(row!.message_count),
      "--payload",
      payload,
    ]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/proof holds: message [0-9a-f]{64} is leaf 3 of 10/);
    expect((await runCli(["verify-proof", "-"], cleanEnv(), printed.stdout)).code).toBe(0);

    expect((await runCli(["verify-proof", file, "--root", "00".repeat(32)])).code).toBe(1);
    expect((await runCli(["verify-proof", file, "--tree-size", "11"])).code).toBe(1);
    const tampered = {
      ...proof,
      auditPath: [
        proof.auditPath[0]!.replace(/^./, (c) => (c === "0" ? "1" : "0")),
        ...proof.auditPath.slice(1),
      ],
    };
    const bad = await runCli(["verify-proof", "-", "--json"], cleanEnv(), JSON.stringify(tampered));
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false });
    const otherPayload = join(dir, "other.json");
    await writeFile(otherPayload, JSON.stringify({ deviceId: "SENSOR_001", kwh: 0 }));
    const wrongPayload = await runCli(["verify-proof", file, "--payload", otherPayload]);
    expect(wrongPayload.code).toBe(1);
    expect(wrongPayload.stderr).toMatch(/the payload hashes to/);
  });

  it("proof and verify --batch exit 4 for an unknown id", async () => {
    const proof = await runCli(["proof", "00000000-0000-4000-8000-000000000000"], env);
    expect(proof.code).toBe(4);
    expect(proof.stderr).toMatch(/no stored message/);
    const verify = await runCli(["verify", "--batch", "00000000-0000-4000-8000-000000000000"], env);
    expect(verify.code).toBe(4);
  });

  it("verify exits 1 naming the first tampered batch and message", async () => {
    const [victim] = await query<{ message_id: string; batch_id: string }>(
      "SELECT message_id, batch_id FROM messages ORDER BY batch_id, leaf_index LIMIT 1",
    );
    const [other] = await query<{ batch_id: string }>(
      "SELECT batch_id FROM batches WHERE batch_id <> $1 LIMIT 1",
      [victim!.batch_id],
    );
    await query(`UPDATE messages SET raw_data = jsonb_set(raw_data, '{kwh}', '0') WHERE message_id = $1`, [
      victim!.message_id,
    ]);
    const result = await runCli(["verify"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `first failure in batch ${victim!.batch_id}, message ${victim!.message_id}: message_hash_mismatch`,
    );
    expect(result.stdout).toMatch(new RegExp(`FAILED  ${victim!.batch_id}`));
    expect((await runCli(["verify", "--batch", victim!.batch_id], env)).code).toBe(1);
    expect((await runCli(["verify", "--batch", other!.batch_id], env)).code).toBe(0);
  });

  it("run exits 3 naming the broker when MQTT is unreachable", async () => {
    const result = await runCli(
      [
        "run",
        "--mqtt-url",
        "mqtt://user:mq-secret@127.0.0.1:9/",
        "--connect-timeout",
        "1s",
        "--skip-migrate",
      ],
      env,
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("cannot reach the MQTT broker at 127.0.0.1:9 — set MQTT_URL or start it");
    expect(result.stdout + result.stderr).not.toContain("mq-secret");
  });

  it("run, migrate and verify exit 3 naming `migrate --create-database` when the database does not exist", async () => {
    const missing = `vb_missing_${randomBytes(4).toString("hex")}`;
    const url = new URL(db.url);
    url.pathname = `/${missing}`;
    const missingEnv = cleanEnv({ DATABASE_URL: url.toString(), MQTT_URL: inject("mqttUrl") });
    for (const args of [["run", "--connect-timeout", "5s"], ["migrate"], ["verify"]]) {
      const result = await runCli(args, missingEnv);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toContain(`database "${missing}" does not exist`);
      expect(result.stderr).toContain("veep-bridge migrate --create-database");
      expect(result.stderr).not.toMatch(/StoreError|\n\s+at /);
    }
  });
});
