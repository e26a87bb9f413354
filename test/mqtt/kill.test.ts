import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import {
  AEDES_LOSS,
  hasMosquitto,
  machineBroker,
  startAedes,
  startMosquitto,
  type TestBroker,
} from "./support/brokers.js";
import { publisher, sleep, uniqueId } from "./support/collect.js";
import { startMqttTap, type TappedConnection } from "./support/mqtt-tap.js";
import {
  type BridgeProcess,
  countMessages,
  expectStoredExactlyOnce,
  migrateDatabase,
  publishConcurrently,
  readings,
  spawnBridge,
  storedHashes,
  waitForCount,
  waitForCountOrIdle,
} from "./support/pipeline.js";
import { forgetSession } from "./support/targets.js";

/** Holds `LOCK TABLE messages IN SHARE MODE` in a transaction of its own until `release()`. */
async function holdWrites(url: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  await client.query("BEGIN");
  await client.query("LOCK TABLE messages IN SHARE MODE");
  return {
    async release() {
      await client.query("COMMIT").catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

const MESSAGES = 5000;

/**
 * Messages the publisher may have sent before each SIGKILL. Before each kill the database stops taking
 * writes (a lock), so the bridge falls behind whatever its speed, and the publisher goes on up to here.
 */
const KILL_AT = [1200, 2400, 3600];
/** Least backlog (PUBACKed to the publisher, not stored) at a kill for the kill to prove anything. */
const MIN_BACKLOG = 100;
/**
 * Batch size of the bridge processes. A commit never spans two batches, so one commit landing between the
 * last count before a kill and the kill lowers the backlog by at most this much.
 */
const BATCH_MAX = 200;
/** Backlog (counted just before the kill) that a kill waits for: the bound plus one commit, with room. */
const KILL_BACKLOG = MIN_BACKLOG + 2 * BATCH_MAX;
/**
 * Slack for redeliveries beyond the deliveries the killed bridge held un-acknowledged: mosquitto's default
 * in-flight window. A broker redelivers only what it sent and got no PUBACK for.
 */
const WINDOW = 20;

/** A broker that can tell which protocol version each connection of a client id used. */
interface ProtocolLoggingBroker extends TestBroker {
  /**
   * mosquitto's protocol codes (`p2` MQTT 3.1.1, `p5` MQTT 5) of the persistent-session (`c0`) connections
   * of `clientId`, in order.
   */
  protocolsOf(clientId: string): Promise<string[]>;
}

interface Case {
  readonly name: string;
  start(): Promise<TestBroker | ProtocolLoggingBroker>;
  /** Keep the publisher at most this many messages ahead of the database. */
  readonly maxAhead?: number;
  /** MQTT protocol version of the bridge process and the publisher (default 4, MQTT 3.1.1). */
  readonly protocolVersion?: 4 | 5;
  /**
   * Set for a broker known to drop QoS 1 messages of a persistent session itself, with the evidence. On
   * it, a message the publisher got PUBACKed for may be missing only if no bridge ever acknowledged it
   * (at most {@link MAX_BROKER_LOSS} of them), and redeliveries are not bounded from above (it also
   * resends messages that were acknowledged).
   */
  readonly dropsQueuedMessages?: string;
}

/** The most messages a broker with {@link Case.dropsQueuedMessages} may lose in one run: a sanity bound. */
const MAX_BROKER_LOSS = MESSAGES / 2;

/**
 * Our own mosquitto (no queue limit) logging connections to a file: its "New client connected … as <id>
 * (p5, c0, k30)" lines prove the bridge process really spoke MQTT 5.
 */
async function mosquittoLoggingProtocols(): Promise<ProtocolLoggingBroker> {
  const dir = await mkdtemp(join(tmpdir(), "veep-mosq-log-"));
  await chmod(dir, 0o777); // mosquitto drops to its own user, which must write the log here
  const logFile = join(dir, "mosquitto.log");
  const broker = await startMosquitto([
    `log_dest file ${logFile}`,
    "log_type notice",
    "connection_messages true",
  ]);
  return {
    name: broker.name,
    url: broker.url,
    mqtt5: broker.mqtt5,
    async protocolsOf(clientId) {
      const log = await readFile(logFile, "utf8");
      const connected = new RegExp(` as ${clientId} \\((p\\d+), c0,`, "g");
      return [...log.matchAll(connected)].map((m) => m[1]!);
    },
    async stop() {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// mosquitto's default `max_queued_messages 1000` DROPS QoS 1 messages it already PUBACKed to the publisher once
// a client's queue is full. A backlog of thousands needs a broker without that limit (our own mosquitto); on the
// machine's broker (MQTT_URL, defaults) the publisher stays at most 700 messages ahead of the database.
const cases: Case[] = [{ name: "aedes", start: () => startAedes(), dropsQueuedMessages: AEDES_LOSS }];
if (hasMosquitto("the kill tests on a mosquitto of their own (MQTT 3.1.1 and 5)")) {
  cases.push({ name: "mosquitto (max_queued_messages 0)", start: () => startMosquitto() });
  // aedes speaks MQTT 3.1.1 only; MQTT 5 runs on a mosquitto of our own.
  cases.push({
    name: "mosquitto (max_queued_messages 0), MQTT 5",
    start: mosquittoLoggingProtocols,
    protocolVersion: 5,
  });
}
const machine = machineBroker("the kill test on the machine's broker");
if (machine !== undefined)
  cases.push({ name: "MQTT_URL (≤700 ahead)", start: async () => machine, maxAhead: 700 });

/** What one SIGKILL hit. */
interface Fault {
  /** Messages PUBACKed to the publisher and not stored, at the kill (a lower bound). */
  readonly backlog: number;
  /** Deliveries the killed bridge had not acknowledged when its connection went (it died). */
  readonly held: number;
  /** The killed bridge's connection through the tap. */
  readonly connection: TappedConnection;
}

describe.concurrent("bridge process SIGKILLed mid-stream while it holds a backlog", () => {
  it.each(cases)(
    "$name: every message the publisher got PUBACKed for is stored exactly once, every batch verifies",
    async ({ name, start, maxAhead, protocolVersion = 4, dropsQueuedMessages }) => {
      const broker = await start();
      // The bridge processes connect through the tap, which counts what the broker delivers and they ack.
      const tap = await startMqttTap(broker.url);
      const db = await createTestDatabase("vb_mqtt_kill");
      const clientId = uniqueId("vb-kill");
      const tenant = uniqueId("k");
      const env = {
        MQTT_URL: tap.url,
        DATABASE_URL: db.url,
        CLIENT_ID: clientId,
        TENANT: tenant,
        VB_MQTT_PROTOCOL: String(protocolVersion) as "4" | "5",
        BATCH_MAX: String(BATCH_MAX),
        VB_STATS_INTERVAL_MS: "2000", // kept in `recent`, shown if the run times out
      };
      try {
        await migrateDatabase(db.url);
        // Per bridge process: the index of its first connection through the tap, and the process.
        const runs: Array<{ from: number; bridge: BridgeProcess }> = [];
        const launch = async (): Promise<BridgeProcess> => {
          const run = { from: tap.connections.length, bridge: spawnBridge(env) };
          runs.push(run);
          await run.bridge.ready;
          return run.bridge;
        };
        /** The tap's connections of bridge process `i`. */
        const connectionsOf = (i: number): TappedConnection[] =>
          tap.connections.slice(runs[i]!.from, runs[i + 1]?.from ?? tap.connections.length);
        let bridge = await launch();
        const items = readings(tenant, MESSAGES, 8);
        const acked: typeof items = [];
        const pub = await publisher(broker.url, protocolVersion);
        let stored = 0;
        let sent = 0;
        // Publishing goes up to `allowed`, raised phase by phase; with `maxAhead`, also no further ahead
        // of the database than that (a broker that drops beyond its queue limit).
        let allowed = 0;
        const gate = async (): Promise<void> => {
          sent++;
          while (sent > allowed || (maxAhead !== undefined && sent - stored > maxAhead)) await sleep(5);
        };
        const watching = { on: true };
        const watcher = (async () => {
          while (watching.on) {
            stored = await countMessages(db.url);
            await sleep(20);
          }
        })();
        const publishing = publishConcurrently(pub, items, {
          window: 100,
          onAcked: (item) => acked.push(item),
          gate,
        });
        const faults: Fault[] = [];
        for (const at of KILL_AT) {
          // The database stops taking writes (a lock on `messages`), the publisher goes on up to `at`, and
          // the kill comes once the bridge is well behind, counted afresh just before it: waiting for it, not
          // hoping for it. The bridge must also hold deliveries it has not acknowledged, which the broker
          // must send again.
          const lock = await holdWrites(db.url);
          allowed = at;
          const held = (): number => tap.connections.at(-1)?.unacked.size ?? 0;
          const deadline = Date.now() + 60_000;
          try {
            for (;;) {
              const now = await countMessages(db.url);
              const ready = acked.length >= Math.min(at, now + (maxAhead ?? at)) - 100;
              if (ready && acked.length - now > KILL_BACKLOG && held() > 0) break;
              if (Date.now() > deadline)
                throw new Error(
                  `no moment to kill before ${at} published: ${acked.length} published, ${now} stored, ` +
                    `un-acknowledged deliveries held ${held()}`,
                );
              await sleep(10);
            }
          } catch (error) {
            await lock.release();
            throw error;
          }
          const ackedAtKill = acked.length;
          const connection = tap.connections.at(-1)!;
          await bridge.kill("SIGKILL");
          await lock.release();
          // Counted after the kill, so nothing the killed process committed is missed: a lower bound.
          const backlog = ackedAtKill - (await countMessages(db.url));
          while (connection.heldWhenClientLeft === undefined) await sleep(5);
          faults.push({ backlog, held: connection.heldWhenClientLeft, connection });
          await sleep(200);
          bridge = await launch();
        }
        allowed = MESSAGES;
        await publishing;
        await pub.endAsync();
        watching.on = false;
        await watcher;
        const drained =
          dropsQueuedMessages === undefined
            ? waitForCount(db.url, acked.length, 90_000)
            : waitForCountOrIdle(db.url, acked.length, () => bridge.lastStats?.buffered, 90_000);
        await drained.catch((error: Error) => {
          throw new Error(
            `${error.message}; the last bridge process (stats ${JSON.stringify(bridge.counts)}) printed:\n` +
              `${bridge.recent.join("\n")}\nand on stderr: ${bridge.stderr.slice(-3000)}`,
          );
        });
        const { hashes } = await storedHashes(db.url);
        const missing = acked.filter((item) => !hashes.has(item.hash));
        // Acknowledgement after COMMIT, on every broker: no bridge ever PUBACKed a message that is not stored.
        expect(
          missing.filter((item) => tap.acknowledged(item.topic, item.payload)).map((item) => item.hash),
          "messages a bridge acknowledged that are not stored",
        ).toEqual([]);
        if (dropsQueuedMessages === undefined) expect(missing, "messages not stored").toEqual([]);
        else {
          expect(missing.length, `messages the broker dropped (${dropsQueuedMessages})`).toBeLessThanOrEqual(
            MAX_BROKER_LOSS,
          );
          if (missing.length > 0)
            console.info(
              `[kill ${name}] the broker dropped ${missing.length} queued messages that no bridge had ` +
                `acknowledged (${dropsQueuedMessages})`,
            );
        }
        const lost = missing.length;
        // Every delivery a killed bridge held must come again (QoS 1, persistent session). A bridge may itself
        // be killed before it read them all, so they are counted over the rest of the run, until they came.
        const heldInAll = faults.reduce((n, f) => n + f.held, 0);
        const closed = tap.connections.slice(0, -1); // all but the last bridge's connection
        for (const end = Date.now() + 30_000; Date.now() < end; await sleep(20)) {
          const all = closed.every((c) => c.heldAtClose !== undefined);
          if (all && tap.totals().redelivered >= heldInAll - lost) break;
        }
        await bridge.kill("SIGTERM");
        const redelivered = tap.totals().redelivered;
        const inFlightInAll = closed.reduce((n, c) => n + (c.heldAtClose ?? 0), 0);
        const duplicates = runs.reduce((n, r) => n + r.bridge.counts.duplicates, 0);
        console.info(
          `[kill ${name}] ${KILL_AT.length} SIGKILLs; backlog (PUBACKed to publisher, not yet stored) at each kill: ` +
            `${faults.map((f) => f.backlog).join(", ")}; deliveries held un-acked by the killed bridge: ` +
            `${faults.map((f) => f.held).join(", ")}; in flight when the broker closed its connection: ` +
            `${faults.map((f) => f.connection.heldAtClose).join(", ")}; redeliveries to each next bridge: ` +
            `${runs
              .slice(1)
              .map((_, i) => connectionsOf(i + 1).reduce((n, c) => n + c.redelivered, 0))
              .join(", ")}, in all ` +
            `${redelivered}; recognised as duplicates: ${runs.map((r) => r.bridge.counts.duplicates).join(", ")}`,
        );
        for (const [k, fault] of faults.entries()) {
          const label = `kill ${k + 1} of ${KILL_AT.length}`;
          // Every kill must hit while the bridge is behind, or the test proves nothing.
          expect(fault.backlog, `${label}: backlog at the broker`).toBeGreaterThan(MIN_BACKLOG);
          expect(fault.held, `${label}: deliveries the killed bridge held un-acknowledged`).toBeGreaterThan(
            0,
          );
        }
        // The broker sent again every delivery the killed bridges had not acknowledged (so > 0), and nothing
        // beyond what it had in flight to the closed connections, give or take a window per connection.
        expect(redelivered, "redeliveries").toBeGreaterThanOrEqual(heldInAll - lost);
        if (dropsQueuedMessages === undefined)
          expect(redelivered, "redeliveries").toBeLessThanOrEqual(inFlightInAll + WINDOW * closed.length);
        // A duplicate is a redelivery of something already stored.
        expect(duplicates, "duplicates").toBeLessThanOrEqual(redelivered);
        await expectStoredExactlyOnce(
          db.url,
          acked.filter((item) => hashes.has(item.hash)),
        );
        expect(acked).toHaveLength(MESSAGES);
        // Every message reached a bridge (but those the broker dropped), and only the redeliveries came twice.
        const totals = tap.totals();
        expect(totals.delivered - totals.redelivered).toBeGreaterThanOrEqual(MESSAGES - lost);
        expect(totals.delivered - totals.redelivered).toBeLessThanOrEqual(MESSAGES);
        // The first bridge and one restarted bridge per kill, every one of them on the asked protocol.
        expect(new Set(tap.connections.map((c) => c.protocol))).toEqual(new Set([protocolVersion]));
        if ("protocolsOf" in broker) {
          const protocols = await broker.protocolsOf(clientId);
          expect(protocols.length).toBeGreaterThanOrEqual(KILL_AT.length + 1);
          expect(new Set(protocols)).toEqual(new Set([protocolVersion === 5 ? "p5" : "p2"]));
        }
        await forgetSession(broker.url, clientId, protocolVersion);
      } finally {
        await tap.close();
        await broker.stop();
        await db.drop();
      }
    },
    150_000,
  );
});
