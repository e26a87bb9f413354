import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startEmbeddedBroker } from "../../src/cli/embedded-broker.js";
import { mosquittoTarget } from "../mqtt/support/brokers.js";
import { createTestDatabase, queryRows } from "../support/database.js";
import { forgetSession } from "./support/mqtt-session.js";
import { cleanEnv, type Running, runCli, start } from "./support/process.js";

/** The value of one series in a scrape, or `undefined` when it is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Sum of every series of `metric` (over its labels). */
function total(text: string, metric: string): number {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const current = await read();
    if (ok(current)) return current;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts `veep-bridge ARGS` as `node --import tsx` rather than through the tsx binary (which forks):
 * a signal sent to the child reaches the bridge itself.
 */
function startBridge(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  return start(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], env);
}

async function endpointOf(bridge: Running): Promise<string> {
  await bridge.waitForOutput(/"event":"metrics"/, 30_000);
  return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(bridge.stdout())![1]!;
}

async function scrape(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return response.text();
}

async function readyz(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const query = queryRows;

describe("veep-bridge run with a metrics endpoint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-metrics-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("counts what was published: received, stored, duplicate, rejected by reason, sealed", async () => {
    const db = await createTestDatabase("vb_metrics");
    const tenant = `met${randomBytes(3).toString("hex")}`;
    const mqttUrl = inject("mqttUrl");
    const clientId = `cli-metrics-${tenant}`;
    const config = join(dir, `${tenant}.json`);
    await writeFile(
      config,
      JSON.stringify({
        databaseUrl: db.url,
        mqtt: { url: mqttUrl, clientId, topic: `veep/${tenant}/#` },
        batch: { maxMessages: 10 },
        metrics: { port: 0, host: "127.0.0.1" },
      }),
    );
    const bridge = startBridge(["run", "--json", "--config", config], cleanEnv());
    try {
      const base = await endpointOf(bridge);
      await bridge.waitForOutput(/"event":"started"/);
      const topic = `veep/${tenant}/line2/SENSOR_001/data`;
      const good = Array.from({ length: 25 }, (_, i) =>
        JSON.stringify({ deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: 15.7 + i }),
      );
      const bad = [
        "not json",
        "{broken",
        "[1,2,3]",
        JSON.stringify({ deviceId: "SENSOR_999", timestamp: 1 }),
      ];
      const devices = await connectAsync(mqttUrl, { clientId: `cli-metrics-pub-${tenant}` });
      for (const payload of [...good, ...bad, good[3]!])
        await devices.publishAsync(topic, payload, { qos: 1 });
      await devices.endAsync();

      const text = await until(
        "every published message to be counted",
        () => scrape(base),
        (t) =>
          value(t, "veep_bridge_readings_stored_total")! +
            value(t, "veep_bridge_readings_duplicate_total")! +
            total(t, "veep_bridge_readings_rejected_total") >=
          30,
      );
      expect(value(text, "veep_bridge_readings_received_total")).toBe(30);
      expect(value(text, "veep_bridge_readings_stored_total")).toBe(25);
      expect(value(text, "veep_bridge_readings_duplicate_total")).toBe(1);
      expect(value(text, 'veep_bridge_readings_rejected_total{reason="invalid_json"}')).toBe(2);
      expect(value(text, 'veep_bridge_readings_rejected_total{reason="not_an_object"}')).toBe(1);
      expect(value(text, 'veep_bridge_readings_rejected_total{reason="device_mismatch"}')).toBe(1);
      expect(total(text, "veep_bridge_readings_rejected_total")).toBe(4);
      expect(value(text, 'veep_bridge_batches_sealed_total{reason="maxMessages"}')).toBe(2);
      expect(total(text, "veep_bridge_batches_sealed_total")).toBe(2);
      expect(value(text, "veep_bridge_open_batch_readings")).toBe(5);
      expect(value(text, "veep_bridge_source_up")).toBe(1);
      expect(value(text, "veep_bridge_receipt_to_commit_seconds_count")).toBe(25);
      expect(value(text, "veep_bridge_commit_duration_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(value(text, "veep_bridge_oldest_unsealed_batch_age_seconds")).toBeGreaterThan(0);
      expect(value(text, "veep_bridge_last_commit_timestamp_seconds")).toBeGreaterThan(1_700_000_000);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);

      // The database holds what the metrics say.
      expect(await query(db.url, "SELECT 1 FROM messages")).toHaveLength(25);
      expect(await query(db.url, "SELECT 1 FROM dead_letters")).toHaveLength(4);
      expect(await query(db.url, "SELECT 1 FROM batches WHERE status = 'complete'")).toHaveLength(2);

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok", bridge: "running" });
      expect(await readyz(base)).toEqual({
        status: 200,
        body: { ready: true, bridge: "running", broker: "online", database: "ok" },
      });
      expect((await fetch(`${base}/nothing`)).status).toBe(404);

      bridge.child.kill("SIGTERM");
      const { code } = await bridge.exited;
      expect(code, bridge.stderr()).toBe(0);
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    } finally {
      bridge.child.kill("SIGKILL");
      await forgetSession(mqttUrl, clientId);
      await db.drop();
    }
  });

  it("/readyz answers 503 while the database or the broker is unreachable, 200 again once it is back", async () => {
    const db = await createTestDatabase("vb_metrics_ready");
    const broker = await startEmbeddedBroker();
    const bridge = startBridge(
      ["run", "--json", "--metrics-host", "127.0.0.1", "--client-id", "cli-metrics-ready"],
      cleanEnv({ DATABASE_URL: db.url, MQTT_URL: broker.url, VEEP_METRICS_PORT: "0" }),
    );
    try {
      const base = await endpointOf(bridge);
      await until(
        "ready",
        () => readyz(base),
        (r) => r.status === 200,
      );

      const admin = new pg.Client({ connectionString: inject("databaseUrl") });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE "${db.name}" WITH (FORCE)`);
        const down = await until(
          "503 without the database",
          () => readyz(base),
          (r) => r.status === 503,
        );
        expect(down.body).toMatchObject({ ready: false, bridge: "running", broker: "online" });
        expect(down.body.database).toMatch(/does not exist/);
        await admin.query(`CREATE DATABASE "${db.name}"`);
        await until(
          "ready again with the database",
          () => readyz(base),
          (r) => r.status === 200,
        );
      } finally {
        await admin.end();
      }

      await broker.stop();
      const offline = await until(
        "503 without the broker",
        () => readyz(base),
        (r) => r.status === 503,
      );
      expect(offline.body).toMatchObject({ ready: false, database: "ok" });
      expect(offline.body.broker).not.toBe("online");
      expect(value(await scrape(base), "veep_bridge_source_up")).toBe(0);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      bridge.child.kill("SIGTERM");
      const { code } = await bridge.exited;
      expect(code, bridge.stderr()).toBe(0);
    } finally {
      bridge.child.kill("SIGKILL");
      await broker.stop();
      await db.drop();
    }
  });

  const mosquitto = mosquittoTarget("the metrics redelivery test (aedes sets no DUP flag)");
  it.skipIf(mosquitto === undefined)(
    "counts the broker's redeliveries (MQTT DUP) of messages a killed bridge never acknowledged",
    async () => {
      const broker = await mosquitto!.start();
      const db = await createTestDatabase("vb_metrics_dup");
      const tenant = `dup${randomBytes(3).toString("hex")}`;
      const clientId = `cli-metrics-dup-${tenant}`;
      const args = ["run", "--json", "--metrics-host", "127.0.0.1", "--metrics-port", "0"];
      const env = cleanEnv({ DATABASE_URL: db.url, MQTT_URL: broker.url, MQTT_CLIENT_ID: clientId });
      const extra = ["--topic", `${tenant}/{tenant}/{site}/{device}/data`];
      const first = startBridge([...args, ...extra], env);
      let second: Running | undefined;
      const admin = new pg.Client({ connectionString: inject("databaseUrl") });
      await admin.connect();
      try {
        const firstBase = await endpointOf(first);
        await first.waitForOutput(/"event":"started"/);
        // Without its database the bridge receives but cannot commit, so it acknowledges nothing.
        await admin.query(`DROP DATABASE "${db.name}" WITH (FORCE)`);
        const devices = await connectAsync(broker.url, { clientId: `cli-metrics-dup-pub-${tenant}` });
        for (let i = 0; i < 5; i++) {
          const payload = JSON.stringify({ deviceId: "SENSOR_001", timestamp: i, kwh: i });
          await devices.publishAsync(`${tenant}/${tenant}/site1/SENSOR_001/data`, payload, { qos: 1 });
        }
        await devices.endAsync();
        const held = await until(
          "the first bridge to receive all 5",
          () => scrape(firstBase),
          (t) => value(t, "veep_bridge_readings_received_total") === 5,
        );
        expect(value(held, "veep_bridge_redeliveries_total")).toBe(0);
        expect(value(held, "veep_bridge_readings_stored_total")).toBe(0);
        first.child.kill("SIGKILL");
        await first.exited;

        await admin.query(`CREATE DATABASE "${db.name}"`);
        second = startBridge([...args, ...extra], env);
        const base = await endpointOf(second);
        const text = await until(
          "the redelivered messages to be stored",
          () => scrape(base),
          (t) => value(t, "veep_bridge_readings_stored_total") === 5,
        );
        expect(value(text, "veep_bridge_readings_received_total")).toBe(5);
        expect(value(text, "veep_bridge_redeliveries_total")).toBe(5);
        expect(value(text, "veep_bridge_readings_duplicate_total")).toBe(0);
        expect(await query(db.url, "SELECT 1 FROM messages")).toHaveLength(5);
        second.child.kill("SIGTERM");
        expect((await second.exited).code, second.stderr()).toBe(0);
      } catch (error) {
        console.log("FIRST", first.stdout(), first.stderr(), "SECOND", second?.stdout(), second?.stderr());
        throw error;
      } finally {
        first.child.kill("SIGKILL");
        second?.child.kill("SIGKILL");
        await admin.end();
        await forgetSession(broker.url, clientId);
        await db.drop();
        await broker.stop();
      }
    },
    90_000,
  );

  it("exits 3 naming the address when the metrics port is in use, before connecting", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const result = await runCli(
        [
          "run",
          "--metrics-port",
          String(port),
          "--metrics-host",
          "127.0.0.1",
          "--mqtt-url",
          "mqtt://127.0.0.1:9",
        ],
        cleanEnv({ DATABASE_URL: "postgres://nobody@127.0.0.1:9/none" }),
      );
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(`cannot serve metrics on 127.0.0.1:${port}: the port is in use`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("refuses a bad port from a flag (exit 2), the environment or the config file (exit 3)", async () => {
    const flag = await runCli(["run", "--metrics-port", "http"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--metrics-port expects a TCP port (0–65535), got "http"');
    const env = await runCli(["run"], cleanEnv({ VEEP_METRICS_PORT: "70000" }));
    expect(env.code).toBe(3);
    expect(env.stderr).toContain('VEEP_METRICS_PORT must be a TCP port (0–65535), got "70000"');
    const config = join(dir, "bad-metrics.json");
    await writeFile(config, JSON.stringify({ metrics: { port: 9464, path: "/m" } }));
    const file = await runCli(["run", "--config", config]);
    expect(file.code).toBe(3);
    expect(file.stderr).toContain('unknown key "metrics.path"');
  });
});
