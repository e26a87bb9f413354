/**
 * The baseline: a bridge as it is usually written by hand. A plain MQTT.js subscriber (QoS 1,
 * persistent session, MQTT.js acknowledging each message on receipt as it does by default) and one
 * autocommitted `INSERT` per message into the same schema, through a `pg.Pool` of 10 connections.
 * A device row is created (`INSERT … ON CONFLICT DO NOTHING`) the first time a device is seen;
 * no batches, no leaf positions, `message_hash` is SHA-256 of the raw bytes. A payload that
 * `JSON.parse` refuses is dropped; anything it accepts is inserted as is, and an INSERT that fails
 * is counted and forgotten. Nothing here waits for the database before acknowledging.
 *
 *   DATABASE_URL=… MQTT_URL=… MQTT_CLIENT_ID=… node --import tsx bench/naive-bridge.ts
 *
 * The database must already have the schema. Speaks the line protocol of
 * support/child-protocol.ts, so the catch-up bench runs it exactly like the real bridge.
 */
import { createHash } from "node:crypto";
import { connect } from "mqtt";
import pg from "pg";
import { emit } from "./support/child-protocol.js";
import { LatencyHistogram } from "./support/latency-histogram.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const mqttUrl = process.env.MQTT_URL ?? "mqtt://localhost:1883";
const clientId = process.env.MQTT_CLIENT_ID ?? "naive-bridge";
const filter = process.env.NAIVE_TOPIC ?? "veep/+/+/+/data";

const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const latency = new LatencyHistogram();
const counters = { received: 0, stored: 0, dropped: 0, failed: 0 };
/** Rows to store before the `done` line (the bench's BENCH_TARGET). */
const target = Number(process.env.BENCH_TARGET ?? Number.POSITIVE_INFINITY);
const devices = new Map<string, Promise<unknown>>();
const pending = new Set<Promise<void>>();

/** The topic's device, its row created the first time it is seen (once, even for concurrent messages). */
async function ensureDevice(topic: string): Promise<string> {
  const [, tenant = "", site = "", id = ""] = topic.split("/");
  let created = devices.get(id);
  if (!created) {
    created = pool.query(
      "INSERT INTO devices (device_id, tenant_id, site_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [id, tenant, site],
    );
    devices.set(id, created);
  }
  await created;
  return id;
}

async function handle(topic: string, payload: Buffer, receivedAt: number): Promise<void> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    counters.dropped++;
    return;
  }
  try {
    const id = await ensureDevice(topic);
    await pool.query(
      `INSERT INTO messages (device_id, topic, message_hash, raw_data, received_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [
        id,
        topic,
        createHash("sha256").update(payload).digest("hex"),
        JSON.stringify(value),
        new Date(receivedAt),
      ],
    );
    counters.stored++;
    if (counters.stored === target) emit({ type: "done", at: Date.now() });
    latency.record(Date.now() - receivedAt);
  } catch {
    counters.failed++;
  }
}

// The listener goes on before the connection: a persistent session may deliver at once.
const client = connect(mqttUrl, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 1000 });
client.on("message", (topic, payload) => {
  counters.received++;
  const work = handle(topic, payload, Date.now());
  pending.add(work);
  void work.finally(() => pending.delete(work));
});
client.on("error", (error) => emit({ type: "error", message: error.message }));
client.on("offline", () => emit({ type: "source", state: "offline" }));

emit({ type: "starting", at: Date.now() });
const cpuAtStart = process.cpuUsage();
process.once("SIGTERM", () => {
  void (async () => {
    await client.endAsync();
    while (pending.size > 0) await Promise.all(pending);
    await pool.end();
    emit({
      type: "final",
      stats: { ...counters },
      latency: latency.summary(),
      maxRssKb: process.resourceUsage().maxRSS,
      cpuMs: Math.round((process.cpuUsage(cpuAtStart).user + process.cpuUsage(cpuAtStart).system) / 1000),
    });
    process.exit(0);
  })();
});

client.once("connect", () => {
  void client.subscribeAsync(filter, { qos: 1 }).then(
    () => {
      emit({ type: "ready", at: Date.now() });
      setInterval(() => emit({ type: "progress", stats: { ...counters } }), 1000).unref();
    },
    (error: Error) => {
      emit({ type: "fatal", message: error.message });
      process.exit(1);
    },
  );
});
