/**
 * MQTT throughput, QoS 1, one publisher: the broker alone (a plain MQTT.js subscriber acknowledging at once)
 * versus the bridge end to end (MQTT source → decode → hash → PostgreSQL COMMIT → PUBACK), same run.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/mqtt-throughput.ts [messages]
 *
 * Brokers: an in-process aedes, and (when the `mosquitto` binary exists) private mosquitto processes with
 * `max_queued_messages 0` and `max_inflight_messages` 20 (the default) and 100. `MQTT_URL`, when set, adds
 * that broker too; its bridge run is paced to keep at most 800 messages queued, below mosquitto's default
 * `max_queued_messages` (1000), beyond which it drops messages.
 * Prints figures only; compare rows of the same run, not across machines.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import pg from "pg";
import { createBridge } from "../src/index.js";
import { mqttSource } from "../src/sources/mqtt/index.js";
import { postgresStore } from "../src/stores/postgres/index.js";
import { freePort, sleep, waitForPort } from "./support/net.js";

const MESSAGES = Number(process.argv[2] ?? 10_000);
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Broker {
  readonly name: string;
  readonly url: string;
  /** The broker's in-flight window: the bridge's write buffer flushes at it. */
  readonly window: number;
  /** Keep at most this many messages queued for the bridge (a broker that drops beyond a queue limit). */
  readonly maxQueued?: number;
  stop(): Promise<void>;
}

async function aedes(): Promise<Broker> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name: "aedes 1.2 (in process)",
    url: `mqtt://127.0.0.1:${port}`,
    window: 100,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function mosquitto(maxInflight: number): Promise<Broker> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "veep-bench-mosq-"));
  await chmod(dir, 0o777);
  const config = join(dir, "mosquitto.conf");
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "max_queued_messages 0",
      `max_inflight_messages ${maxInflight}`,
      "log_dest none",
      "",
    ].join("\n"),
  );
  const child = spawn("mosquitto", ["-c", config], { stdio: "ignore" });
  await waitForPort(port);
  return {
    name: `mosquitto (max_inflight_messages ${maxInflight})`,
    url: `mqtt://127.0.0.1:${port}`,
    window: maxInflight,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function payload(i: number): { topic: string; body: string } {
  const device = `SENSOR_${String(i % 10).padStart(3, "0")}`;
  const body = JSON.stringify({
    deviceId: device,
    timestamp: 1_696_156_800 + i,
    kwh: 15.7 + (i % 97) / 10,
    voltage: 220.1,
    current: 71.36,
    temperature: 32.5,
    metadata: { firmware_version: "2.1.0", signal_strength: -45, seq: i },
  });
  return { topic: `veep/bench/site1/${device}/data`, body };
}

async function publishAll(client: MqttClient, offset: number, gate?: () => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      await gate?.();
      const { topic, body } = payload(offset + next++);
      await client.publishAsync(topic, body, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
}

/** The broker alone: publisher → plain MQTT.js subscriber (PUBACK on receipt). */
async function baseline(broker: Broker): Promise<number> {
  const sub = await connectAsync(broker.url, { clientId: `bench-sub-${Date.now()}`, clean: true });
  await sub.subscribeAsync("veep/bench/#", { qos: 1 });
  let received = 0;
  sub.on("message", () => received++);
  const pub = await connectAsync(broker.url, { clientId: `bench-pub-${Date.now()}` });
  const started = performance.now();
  await publishAll(pub, 0);
  while (received < MESSAGES) await sleep(1);
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  await pub.endAsync();
  await sub.endAsync();
  return rate;
}

/** The bridge end to end: publisher → MQTT source → PostgreSQL COMMIT → PUBACK. */
async function endToEnd(broker: Broker, databaseUrl: string, offset: number): Promise<number> {
  const clientId = `bench-bridge-${Date.now()}`;
  const bridge = createBridge({
    source: mqttSource({
      url: broker.url,
      clientId,
      clean: true,
      maxInFlight: broker.window,
      topic: "veep/bench/#",
    }),
    store: postgresStore({ connectionString: databaseUrl }),
    topic: "veep/{tenant}/{site}/{device}/data",
    batch: { maxMessages: 1000, maxAgeMs: 300_000 },
  });
  await bridge.start();
  const pub = await connectAsync(broker.url, { clientId: `bench-pub-${Date.now()}` });
  const started = performance.now();
  let published = 0;
  const limit = broker.maxQueued;
  const gate =
    limit === undefined
      ? undefined
      : async () => {
          published++;
          while (published - bridge.stats().stored > limit) await sleep(1);
        };
  await publishAll(pub, offset, gate);
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const { stored } = bridge.stats();
    if (stored >= MESSAGES) break;
    if (stored !== last) [last, lastChange] = [stored, Date.now()];
    if (Date.now() - lastChange > 10_000) {
      throw new Error(
        `${broker.name}: stalled at ${stored}/${MESSAGES} stored (did the broker drop messages?)`,
      );
    }
    await sleep(2);
  }
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  await pub.endAsync();
  await bridge.stop({ drain: true, seal: true });
  return rate;
}

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `veep_bench_mqtt_${Date.now()}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

const starters: Array<() => Promise<Broker>> = [aedes];
if (spawnSync("mosquitto", ["-h"], { stdio: "ignore" }).error === undefined) {
  starters.push(
    () => mosquitto(20),
    () => mosquitto(100),
  );
}
const machineUrl = process.env.MQTT_URL;
if (machineUrl) {
  // Its max_queued_messages may be mosquitto's default 1000: pace the bridge run to stay below it.
  starters.push(async () => ({
    name: "MQTT_URL (≤800 queued)",
    url: machineUrl,
    window: 20,
    maxQueued: 800,
    stop: async () => {},
  }));
}

const rows: Array<{ broker: string; alone: number; bridge: number }> = [];
for (const start of starters) {
  const broker = await start();
  try {
    const alone = await baseline(broker);
    const bridged = await withDatabase((url) => endToEnd(broker, url, MESSAGES));
    rows.push({ broker: broker.name, alone, bridge: bridged });
  } finally {
    await broker.stop();
  }
}

console.log(`\nQoS 1, ${MESSAGES.toLocaleString("en")} messages, one publisher (100 in flight)\n`);
console.log(
  `${"broker".padEnd(40)} ${"broker alone".padStart(14)} ${"bridge → PG".padStart(14)} ${"ratio".padStart(7)}`,
);
for (const row of rows) {
  const f = (n: number) => `${Math.round(n).toLocaleString("en")} msg/s`.padStart(14);
  console.log(
    `${row.broker.padEnd(40)} ${f(row.alone)} ${f(row.bridge)} ${(row.bridge / row.alone).toFixed(2).padStart(7)}`,
  );
}
