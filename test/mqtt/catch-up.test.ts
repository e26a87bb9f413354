/**
 * Catch-up liveness: a bridge process that was stopped while a large backlog queued for its persistent
 * session must drain all of it once started again, with few redeliveries, also while PostgreSQL fails
 * under it. Black box: only the bridge process (test/mqtt/fixtures/bridge-process.ts, default write-buffer
 * settings), its stats lines and the database are observed. Not timed: the limits only turn a livelock
 * into a failure instead of a hang.
 */
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { startOwnPostgres } from "../support/own-postgres.js";
import { hasMosquitto, startAedes, startMosquitto, type TestBroker } from "./support/brokers.js";
import { publisher, sleep, uniqueId } from "./support/collect.js";
import {
  type BridgeProcess,
  type BridgeProcessStats,
  expectStoredExactlyOnce,
  migrateDatabase,
  type Published,
  publishConcurrently,
  readings,
  spawnBridge,
} from "./support/pipeline.js";
import { forgetSession } from "./support/targets.js";

/** Valid readings in the backlog: more than every in-memory limit of the bridge added together. */
const READINGS = 30_000;
const DEVICES = 10;
/** Rounds of the nine kinds of bad payload: 63 in all, 0.21 % of the backlog. */
const BAD_ROUNDS = 7;
/** Messages published in all. */
const PUBLISHED = READINGS + BAD_ROUNDS * 9;
const DRAIN_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 120_000;

/** One message of the backlog. */
interface Message {
  readonly topic: string;
  readonly payload: string | Buffer;
}

/** A payload the bridge must refuse, with the reason it must record in `dead_letters`. */
interface BadPayload extends Message {
  readonly reason: string;
}

/** Nine kinds of bad input per round, each distinct by topic and payload (the empty payload by its topic). */
function badPayloads(tenant: string): BadPayload[] {
  const bad: BadPayload[] = [];
  for (let r = 0; r < BAD_ROUNDS; r++) {
    const device = `SENSOR_${String((r % DEVICES) + 1).padStart(3, "0")}`;
    const topic = `vbmqtt/${tenant}/site1/${device}/data`;
    const add = (reason: string, payload: string | Buffer): void => {
      bad.push({ topic, payload, reason });
    };
    add("not_an_object", `[${r},1,2]`); // a JSON array
    add("not_an_object", `${1000 + r}`); // a bare number
    add("invalid_json", `not json ${r}`);
    add("nul_character", JSON.stringify({ deviceId: device, timestamp: r, note: "a\u0000b" }));
    add("unsafe_integer", `{"deviceId":"${device}","timestamp":${r},"kwh":9007199254740993}`); // above 2^53
    add("device_mismatch", JSON.stringify({ deviceId: "SENSOR_999", timestamp: r, kwh: 1 }));
    add(
      "invalid_utf8",
      Buffer.concat([
        Buffer.from(`{"deviceId":"${device}","timestamp":${r},"note":"`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]),
    );
    add("invalid_json", Buffer.alloc(0)); // an empty payload
    add("lone_surrogate", `{"deviceId":"${device}","timestamp":${r},"note":"\\ud800"}`);
  }
  return bad;
}

/** The backlog: `size` valid readings over 10 devices with the bad payloads spread evenly among them. */
function backlog(tenant: string, size: number): { valid: Published[]; bad: BadPayload[]; all: Message[] } {
  const bad = badPayloads(tenant);
  const valid = readings(tenant, size, DEVICES);
  const every = Math.floor(valid.length / bad.length);
  const all: Message[] = [];
  let next = 0;
  for (const [i, reading] of valid.entries()) {
    all.push(reading);
    if ((i + 1) % every === 0 && next < bad.length) all.push(bad[next++]!);
  }
  all.push(...bad.slice(next));
  return { valid, bad, all };
}

/** Rows in `messages`, rows in `dead_letters` and distinct (topic, payload) among them. */
async function counts(
  url: string,
): Promise<{ messages: number; deadLetters: number; distinctDeadLetters: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      messages: number;
      dead_letters: number;
      distinct_dead_letters: number;
    }>(
      `SELECT (SELECT count(*) FROM messages)::int AS messages,
              (SELECT count(*) FROM dead_letters)::int AS dead_letters,
              (SELECT count(DISTINCT (topic, payload)) FROM dead_letters)::int AS distinct_dead_letters`,
    );
    const row = rows[0]!;
    return {
      messages: row.messages,
      deadLetters: row.dead_letters,
      distinctDeadLetters: row.distinct_dead_letters,
    };
  } finally {
    await client.end();
  }
}

function describeStats(stats: BridgeProcessStats | undefined, published = PUBLISHED): string {
  if (stats === undefined) return "none printed";
  const { received, stored, duplicates, rejected, buffered } = stats;
  return (
    `received ${received} (${(received / published).toFixed(2)}× the ${published} published), stored ${stored}, ` +
    `duplicates ${duplicates}, rejected ${rejected}, buffered ${buffered}`
  );
}

/** A caught-up run: the bridge's final stats and what was published. */
interface CatchUp {
  readonly stats: BridgeProcessStats;
  readonly valid: Published[];
  readonly bad: BadPayload[];
  /** Messages published (valid and bad). */
  readonly published: number;
  /** The catch-up bridge process (its source events and backpressure). */
  readonly bridge: BridgeProcess;
  /** From starting the catch-up bridge until the database held everything. */
  readonly seconds: number;
}

/**
 * Creates the bridge's persistent session (a bridge process subscribes, then stops), queues the backlog at the
 * broker for it, then starts a bridge process on that session and waits until the database holds every valid
 * reading and every bad payload as a dead letter. `during(stored)` runs between polls of the database, to
 * inject faults; no poll's connection is open while it runs.
 */
async function catchUp(options: {
  broker: TestBroker;
  databaseUrl: string;
  /** The bridge's MQTT protocol; unset: the library's default. */
  protocol?: "4" | "5";
  /** Valid readings in the backlog (default {@link READINGS}). */
  size?: number;
  /** The bridge's `writeBuffer.capacityBytes`; unset: the library's default. */
  capacityBytes?: number;
  during?: (stored: number) => Promise<void>;
  pollMs?: number;
}): Promise<CatchUp> {
  const { broker, databaseUrl, protocol, capacityBytes } = options;
  const tenant = uniqueId("c");
  const clientId = uniqueId("vb-catchup");
  const env = {
    MQTT_URL: broker.url,
    DATABASE_URL: databaseUrl,
    CLIENT_ID: clientId,
    TENANT: tenant,
    VB_STATS_INTERVAL_MS: "1000",
    ...(protocol !== undefined ? { VB_MQTT_PROTOCOL: protocol } : {}),
    ...(capacityBytes !== undefined ? { VB_CAPACITY_BYTES: String(capacityBytes) } : {}),
  };
  await migrateDatabase(databaseUrl);
  const session = spawnBridge(env);
  await session.ready;
  const idle = await session.stop();
  expect(idle?.received, "the session's first bridge got nothing (nothing was published yet)").toBe(0);

  const { valid, bad, all } = backlog(tenant, options.size ?? READINGS);
  const pub = await publisher(broker.url);
  await publishConcurrently(pub, all, { window: 200 });
  await pub.endAsync();

  const started = performance.now();
  const bridge: BridgeProcess = spawnBridge(env);
  try {
    await bridge.ready;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let last = { stored: -1, at: Date.now() };
    for (;;) {
      const now = await counts(databaseUrl);
      if (now.messages >= valid.length && now.distinctDeadLetters >= bad.length) break;
      if (now.messages !== last.stored) last = { stored: now.messages, at: Date.now() };
      const progress =
        `${now.messages} of ${valid.length} readings stored (unchanged for the last ` +
        `${((Date.now() - last.at) / 1000).toFixed(0)} s), ${now.distinctDeadLetters} of ${bad.length} bad ` +
        `payloads dead-lettered; the bridge's last stats: ${describeStats(bridge.lastStats, all.length)}`;
      if (!bridge.running)
        throw new Error(`the bridge process exited during the catch-up: ${progress}\n${bridge.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`the catch-up did not finish in ${DRAIN_TIMEOUT_MS / 1000} s: ${progress}`);
      await options.during?.(now.messages);
      await sleep(options.pollMs ?? 250);
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = await bridge.stop(30_000);
    if (stats === undefined)
      throw new Error(
        `the bridge did not stop within 30 s of SIGTERM; last stats: ${describeStats(bridge.lastStats)}`,
      );
    await forgetSession(broker.url, clientId);
    return { stats, valid, bad, seconds, published: all.length, bridge };
  } finally {
    await bridge.kill();
  }
}

/** Every bad payload is in `dead_letters` with its reason; `exactlyOnce`: and no row twice. */
async function expectDeadLetters(
  url: string,
  bad: readonly BadPayload[],
  exactlyOnce: boolean,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ topic: string; payload: string; reason: string }>(
      "SELECT topic, encode(payload, 'hex') AS payload, reason FROM dead_letters",
    );
    const key = (topic: string, payloadHex: string, reason: string): string =>
      `${reason} ${topic} ${payloadHex}`;
    const want = bad.map((b) => key(b.topic, Buffer.from(b.payload).toString("hex"), b.reason)).sort();
    const got = rows.map((r) => key(r.topic, r.payload, r.reason));
    expect(
      [...new Set(got)].sort(),
      "the distinct dead letters are the bad payloads, each with its reason",
    ).toEqual(want);
    if (exactlyOnce) expect(got, "each bad payload is dead-lettered once").toHaveLength(bad.length);
  } finally {
    await client.end();
  }
}

interface BrokerCase {
  readonly name: string;
  /** The bridge's protocol setting; unset: the library's default (MQTT 5, falling back to 3.1.1). */
  readonly protocol: "4" | "5" | undefined;
  /** What the bridge must report in its online events: "MQTT 3.1.1" or "MQTT 5". */
  readonly speaks: string;
  start(): Promise<TestBroker>;
}

// Our own mosquittos: no queue limit (the machine's broker drops beyond 1000 queued), in-flight window 20.
const brokers: BrokerCase[] = [];
const mosquitto = hasMosquitto("the catch-up tests on a mosquitto of their own");
if (mosquitto) {
  brokers.push({
    name: "mosquitto (own), MQTT 3.1.1",
    protocol: "4",
    speaks: "MQTT 3.1.1",
    start: () => startMosquitto(),
  });
  brokers.push({
    name: "mosquitto (own), MQTT 5 (default)",
    protocol: undefined,
    speaks: "MQTT 5",
    start: () => startMosquitto(),
  });
}
// aedes refuses MQTT 5: the default setting must fall back to 3.1.1 on its own.
brokers.push({
  name: "aedes, MQTT 3.1.1 (default, fallen back)",
  protocol: undefined,
  speaks: "MQTT 3.1.1",
  start: () => startAedes(),
});

/** Valid readings of the catch-ups with PostgreSQL faults: still more than every in-memory limit. */
const FAULT_READINGS = 12_000;
/** The write buffer's byte bound in the byte-bound catch-up: reached long before its 4000 messages. */
const SMALL_CAPACITY_BYTES = 64 * 1024;

/** Redeliveries, readings and dead letters of a finished catch-up, as the issue bounds them. */
async function expectCaughtUp(run: CatchUp, databaseUrl: string, speaks: string): Promise<void> {
  const { stats, valid, bad, published, bridge } = run;
  await expectStoredExactlyOnce(databaseUrl, valid);
  await expectDeadLetters(databaseUrl, bad, true);
  expect(stats.received).toBeGreaterThanOrEqual(published);
  // Redeliveries the bridge may receive on top of what was published: 1 % of the readings.
  expect(stats.received - published, "redeliveries received").toBeLessThanOrEqual(valid.length / 100);
  expect(bridge.online.length, "the bridge came online").toBeGreaterThan(0);
  for (const detail of bridge.online) expect(detail).toContain(`(${speaks},`);
}

describe.concurrent(`catch-up of a backlog of ${READINGS.toLocaleString("en")} readings queued for a stopped bridge`, () => {
  it.each(brokers)(
    "$name: drains completely, each reading stored once, bad payloads dead-lettered once, ≤ 1 % redelivered",
    async ({ name, protocol, speaks, start }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_catchup");
      try {
        const run = await catchUp({ broker, databaseUrl: db.url, ...(protocol ? { protocol } : {}) });
        console.info(
          `[catch-up ${name}] drained in ${run.seconds.toFixed(1)} s; ${describeStats(run.stats)}`,
        );
        await expectCaughtUp(run, db.url, speaks);
        expect(run.stats.stored, "readings this bridge stored").toBe(run.valid.length);
      } finally {
        await broker.stop();
        await db.drop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `write buffer bounded in bytes (${SMALL_CAPACITY_BYTES / 1024} KiB): pauses on bytes, never holds more than the bound and one message, drains`,
    async () => {
      // A broker that sends far more than the byte bound before the first commit: mosquitto on MQTT 5
      // (Receive Maximum 4000) or aedes (no window at all).
      const { speaks, protocol, start } = brokers.find((b) => b.speaks === "MQTT 5") ?? brokers[0]!;
      const broker = await start();
      const db = await createTestDatabase("vb_catchup_bytes");
      try {
        const run = await catchUp({
          broker,
          databaseUrl: db.url,
          size: FAULT_READINGS,
          capacityBytes: SMALL_CAPACITY_BYTES,
          ...(protocol ? { protocol } : {}),
        });
        console.info(
          `[catch-up, ${SMALL_CAPACITY_BYTES} bytes] drained in ${run.seconds.toFixed(1)} s; paused ` +
            `${run.bridge.backpressure.length} times, at most ${Math.max(...run.bridge.backpressure.map((b) => b.bufferedBytes))} ` +
            `bytes held; ${describeStats(run.stats, run.published)}`,
        );
        await expectCaughtUp(run, db.url, speaks);
        expect(run.bridge.backpressure.length, "the bridge paused the source").toBeGreaterThan(0);
        for (const pause of run.bridge.backpressure) {
          // Paused on bytes (the message count was far below the 4000 messages of the count bound) …
          expect(pause.buffered).toBeLessThan(4000);
          expect(pause.bufferedBytes).toBeGreaterThanOrEqual(SMALL_CAPACITY_BYTES);
          // … holding at most the bound plus the one message that crossed it.
          expect(pause.bufferedBytes).toBeLessThanOrEqual(SMALL_CAPACITY_BYTES + 1024);
        }
      } finally {
        await broker.stop();
        await db.drop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it.each(brokers)(
    "$name: PostgreSQL connections terminated three times during the catch-up: nothing lost, nothing twice",
    async ({ protocol, speaks, start }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_catchup_term");
      const admin = new pg.Client({ connectionString: inject("databaseUrl") });
      await admin.connect();
      const at = [0.1, 0.3, 0.5].map((f) => Math.floor(f * FAULT_READINGS));
      const terminated: number[] = [];
      try {
        const run = await catchUp({
          broker,
          databaseUrl: db.url,
          size: FAULT_READINGS,
          ...(protocol ? { protocol } : {}),
          pollMs: 50,
          during: async (stored) => {
            if (terminated.length < at.length && stored >= at[terminated.length]!) {
              const { rows } = await admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                [db.name],
              );
              terminated.push(rows.length);
            }
          },
        });
        console.info(
          `[catch-up, connections terminated] drained in ${run.seconds.toFixed(1)} s; backends terminated: ` +
            `${terminated.join(", ")}; ${describeStats(run.stats, run.published)}`,
        );
        expect(
          terminated,
          "three rounds of terminations, each hitting the bridge's connections",
        ).toHaveLength(3);
        for (const n of terminated) expect(n).toBeGreaterThan(0);
        await expectCaughtUp(run, db.url, speaks);
      } finally {
        await admin.end();
        await broker.stop();
        await db.drop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it.each(brokers)(
    "$name: PostgreSQL restarted during the catch-up (a cluster of the test's own): nothing lost, nothing twice",
    async ({ protocol, speaks, start }) => {
      const broker = await start();
      const cluster = await startOwnPostgres();
      const restartAt = Math.floor(0.3 * FAULT_READINGS);
      let restartedAt: number | undefined;
      try {
        const run = await catchUp({
          broker,
          databaseUrl: cluster.url,
          size: FAULT_READINGS,
          ...(protocol ? { protocol } : {}),
          pollMs: 50,
          during: async (stored) => {
            if (restartedAt === undefined && stored >= restartAt) {
              restartedAt = stored;
              await cluster.down();
              await sleep(1500); // PostgreSQL stays down this long
              await cluster.up();
            }
          },
        });
        console.info(
          `[catch-up, PostgreSQL restarted at ${restartedAt} stored] drained in ${run.seconds.toFixed(1)} s; ` +
            describeStats(run.stats, run.published),
        );
        expect(restartedAt, "PostgreSQL was restarted").toBeDefined();
        expect(restartedAt, "the restart fell mid-drain").toBeLessThan(run.valid.length);
        await expectCaughtUp(run, cluster.url, speaks);
      } finally {
        await broker.stop();
        await cluster.dispose();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
