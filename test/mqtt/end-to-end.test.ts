import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bridge, createBridge, type RejectionReason } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startProxy, type TestBroker } from "./support/brokers.js";
import { publisher, receivedBefore, sleep, uniqueId } from "./support/collect.js";
import { expectStoredExactlyOnce, publishConcurrently, readings, waitForCount } from "./support/pipeline.js";
import { brokerTargets, forgetSession, startSource } from "./support/targets.js";

const TOPIC = "vbmqtt/{tenant}/{site}/{device}/data";

function bridgeOn(
  mqttUrl: string,
  databaseUrl: string,
  clientId: string,
  tenant: string,
  protocolVersion: 4 | 5,
): Bridge {
  return createBridge({
    source: mqttSource({
      url: mqttUrl,
      clientId,
      protocolVersion,
      topic: `vbmqtt/${tenant}/#`,
      reconnect: { minDelayMs: 100 },
    }),
    store: postgresStore({ connectionString: databaseUrl, connectionTimeoutMillis: 1000 }),
    topic: TOPIC,
    batch: { maxMessages: 1000, maxAgeMs: 300_000 },
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
  });
}

/** Keeps the broker's queue for the bridge under `limit` (the machine's mosquitto drops beyond 1000). */
const paced =
  (bridge: Bridge, published: () => number, limit = 500) =>
  async (): Promise<void> => {
    while (published() - bridge.stats().stored - bridge.stats().duplicates > limit) await sleep(2);
  };

/** Every broker on MQTT 3.1.1, and those that speak it on MQTT 5 too. */
const targets = brokerTargets().flatMap((t) => [
  { ...t, protocolVersion: 4 as const },
  ...(t.mqtt5 ? [{ ...t, name: `${t.name} (MQTT 5)`, protocolVersion: 5 as const }] : []),
]);

describe.each(targets)("MQTT → PostgreSQL end to end on $name", (target) => {
  let broker: TestBroker;
  let db: TestDatabase;
  beforeAll(async () => {
    broker = await target.start();
  });
  afterAll(() => broker.stop());

  it("a. 10,000 QoS 1 messages from 10 devices: each stored exactly once, every batch verifies", async () => {
    db = await createTestDatabase("vb_mqtt_a");
    const tenant = uniqueId("a");
    const clientId = uniqueId("vb-e2e");
    const bridge = bridgeOn(broker.url, db.url, clientId, tenant, target.protocolVersion);
    const errors: Error[] = [];
    bridge.on("error", (e) => errors.push(e));
    await bridge.start();
    const items = readings(tenant, 10_000, 10);
    const pub = await publisher(broker.url);
    let published = 0;
    const started = performance.now();
    await publishConcurrently(pub, items, {
      window: 50,
      gate: paced(bridge, () => published),
      onAcked: () => published++,
    });
    await pub.endAsync();
    await waitForCount(db.url, items.length, 60_000);
    const seconds = (performance.now() - started) / 1000;
    console.info(`[${target.name}] 10,000 messages end to end in ${seconds.toFixed(1)} s`);
    await bridge.stop({ drain: true, seal: true });
    expect(errors).toEqual([]);
    await expectStoredExactlyOnce(db.url, items);
    await forgetSession(broker.url, clientId, target.protocolVersion);
    await db.drop();
  }, 90_000);

  it("c. PostgreSQL unreachable for 5 s mid-stream: nothing lost, resumes by itself", async () => {
    db = await createTestDatabase("vb_mqtt_c");
    const pgProxy = await startProxy(db.url);
    const viaProxy = new URL(db.url);
    viaProxy.port = String(pgProxy.port);
    const tenant = uniqueId("c");
    const clientId = uniqueId("vb-pgdown");
    const bridge = bridgeOn(broker.url, viaProxy.toString(), clientId, tenant, target.protocolVersion);
    const retries: unknown[] = [];
    bridge.on("retry", (r) => retries.push(r));
    bridge.on("error", () => {});
    await bridge.start();
    const items = readings(tenant, 3000, 5);
    const pub = await publisher(broker.url);
    let published = 0;
    const publishing = publishConcurrently(pub, items, {
      window: 20,
      gate: paced(bridge, () => published),
      onAcked: () => published++,
    });
    while (published < 1000) await sleep(5);
    pgProxy.down(5000);
    await publishing;
    await pub.endAsync();
    await waitForCount(db.url, items.length, 60_000);
    expect(retries.length).toBeGreaterThan(0);
    await bridge.stop({ drain: true, seal: true });
    await pgProxy.close();
    await expectStoredExactlyOnce(db.url, items);
    await forgetSession(broker.url, clientId, target.protocolVersion);
    await db.drop();
  }, 90_000);

  it("e. bad payloads are dead-lettered with their reason and acknowledged; their neighbours are stored", async () => {
    db = await createTestDatabase("vb_mqtt_e");
    const tenant = uniqueId("e");
    const clientId = uniqueId("vb-bad");
    const bridge = bridgeOn(broker.url, db.url, clientId, tenant, target.protocolVersion);
    const rejected: RejectionReason[] = [];
    bridge.on("rejected", (r) => rejected.push(r.reason));
    await bridge.start();
    const good = readings(tenant, 8, 1);
    const topic = good[0]!.topic;
    const bad: Array<[string, string | Buffer, RejectionReason]> = [
      [topic, Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), "invalid_utf8"],
      [topic, '{"deviceId":"SENSOR_001",', "invalid_json"],
      [topic, "", "invalid_json"],
      [topic, "[1,2]", "not_an_object"],
      [topic, '{"deviceId":"SENSOR_001","v":9007199254740993}', "unsafe_integer"],
      [topic, '{"deviceId":"SENSOR_001","s":"a\\u0000b"}', "nul_character"],
      [topic, '{"deviceId":"SOMEONE_ELSE"}', "device_mismatch"],
      [`vbmqtt/${tenant}/only-two/data`, "{}", "topic_mismatch"],
    ];
    const pub = await publisher(broker.url);
    for (let i = 0; i < bad.length; i++) {
      await pub.publishAsync(good[i]!.topic, good[i]!.payload, { qos: 1 });
      const [t, payload] = bad[i]!;
      await pub.publishAsync(t, payload, { qos: 1 });
    }
    await pub.endAsync();
    await waitForCount(db.url, good.length);
    const deadline = Date.now() + 10_000;
    while (rejected.length < bad.length && Date.now() < deadline) await sleep(20);
    await bridge.stop({ drain: true });
    expect(rejected.sort()).toEqual(bad.map(([, , reason]) => reason).sort());
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ reason: string }>("SELECT reason FROM dead_letters ORDER BY id");
    await client.end();
    expect(rows.map((r) => r.reason)).toEqual(bad.map(([, , reason]) => reason));
    await expectStoredExactlyOnce(db.url, good);
    // Every message, bad ones included, was acknowledged: the session holds nothing to redeliver.
    const after = await startSource(broker.url, `vbmqtt/${tenant}/#`, { clientId });
    expect(await receivedBefore(broker.url, `vbmqtt/${tenant}/marker/m/data`, after.seen)).toEqual([]);
    await after.source.stop();
    await forgetSession(broker.url, clientId, target.protocolVersion);
    await db.drop();
  }, 60_000);
});
