import { connectAsync } from "mqtt";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createBridge } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { createTestDatabase } from "../support/database.js";
import { AEDES_LOSS, type AedesBroker, hasMosquitto, startAedes, startMosquitto } from "./support/brokers.js";
import { sleep, uniqueId } from "./support/collect.js";
import { startMqttTap, type TappedConnection } from "./support/mqtt-tap.js";
import {
  countMessages,
  expectStoredExactlyOnce,
  publishConcurrently,
  readings,
  storedHashes,
  waitForCount,
  waitForCountOrIdle,
} from "./support/pipeline.js";
import { forgetSession } from "./support/targets.js";

const MESSAGES = 4000;
const STALL_AT = 1000; // messages PUBACKed to the publisher when the database stops taking writes
const RESTART_AT = 1500; // messages PUBACKed to the publisher when the broker goes down
/** Least backlog (PUBACKed to the publisher, not stored) when the broker goes down. */
const MIN_BACKLOG = 300;
/** Slack for redeliveries beyond what the broker had in flight to the bridge: mosquitto's default window. */
const WINDOW = 20;

interface RestartableBroker {
  readonly url: string;
  /** Take the broker down and bring it back after `downMs`, its persisted state intact. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function aedesWithPersistence(): Promise<RestartableBroker> {
  let broker: AedesBroker = await startAedes();
  return {
    url: broker.url,
    async restart(downMs) {
      const { port, persistence } = broker;
      await broker.stop();
      await sleep(downMs);
      broker = await startAedes({ port, persistence });
    },
    stop: () => broker.stop(),
  };
}

async function mosquittoWithPersistence(): Promise<RestartableBroker> {
  const broker = await startMosquitto();
  return {
    url: broker.url,
    async restart(downMs) {
      await broker.kill("SIGTERM"); // a clean restart: mosquitto writes its persistence file on exit
      await sleep(downMs);
      await broker.restart();
    },
    stop: () => broker.stop(),
  };
}

const cases: Array<{
  name: string;
  start: () => Promise<RestartableBroker>;
  /**
   * Set for a broker known to drop queued QoS 1 messages of a reconnecting persistent session itself (and to
   * resend acknowledged ones): a missing message then passes only if the bridge never acknowledged it, and
   * the redeliveries are bounded from below only.
   */
  dropsQueuedMessages?: string;
}> = [
  {
    name: "aedes (persistence kept across the restart)",
    start: aedesWithPersistence,
    dropsQueuedMessages: AEDES_LOSS,
  },
];
if (hasMosquitto("the broker-restart test on a mosquitto of its own"))
  cases.push({ name: "mosquitto (persistence true)", start: mosquittoWithPersistence });

describe.concurrent("broker restarted mid-stream while the bridge holds a backlog", () => {
  it.each(cases)(
    "$name: the bridge reconnects by itself, the broker redelivers what it held, and nothing is lost",
    async ({ name, start, dropsQueuedMessages }) => {
      const broker = await start();
      // The bridge connects through the tap, which counts what the broker delivers and the bridge acks.
      const tap = await startMqttTap(broker.url);
      const db = await createTestDatabase("vb_mqtt_restart");
      const clientId = uniqueId("vb-restart");
      const tenant = uniqueId("r");
      let lock: pg.Client | undefined;
      try {
        const bridge = createBridge({
          source: mqttSource({
            url: tap.url,
            clientId,
            topic: `vbmqtt/${tenant}/#`,
            reconnect: { minDelayMs: 100, maxDelayMs: 500 },
          }),
          store: postgresStore({ connectionString: db.url }),
          topic: "vbmqtt/{tenant}/{site}/{device}/data",
        });
        const states: string[] = [];
        bridge.on("source", (s) => states.push(`${s.state} ${s.detail ?? ""} ${s.error?.message ?? ""}`));
        bridge.on("error", () => {});
        await bridge.start();
        const items = readings(tenant, MESSAGES, 6);
        const acked: typeof items = [];
        // A persistent publisher session, so its in-flight publishes survive the restart too.
        const pub = await connectAsync(broker.url, {
          clientId: `${clientId}-pub`,
          clean: false,
          reconnectPeriod: 100,
        });
        pub.on("error", () => {});
        // ~2,500 msg/s, so the restart falls in the middle of the stream, publisher included.
        let sent = 0;
        const pace = async (): Promise<void> => {
          if (++sent % 5 === 0) await sleep(2);
        };
        const publishing = publishConcurrently(pub, items, {
          window: 10,
          gate: pace,
          onAcked: (item) => acked.push(item),
        });
        // The database stops taking writes (a lock on `messages`), so the bridge falls behind, whatever its
        // speed: it holds deliveries it cannot acknowledge when the broker goes down.
        while (acked.length < STALL_AT) await sleep(5);
        lock = new pg.Client({ connectionString: db.url });
        await lock.connect();
        await lock.query("BEGIN");
        await lock.query("LOCK TABLE messages IN SHARE MODE");
        const connection = (): TappedConnection | undefined => tap.connections.at(-1);
        const ready = Date.now() + 30_000;
        while (acked.length < RESTART_AT || (connection()?.unacked.size ?? 0) === 0) {
          if (Date.now() > ready)
            throw new Error(
              `no moment to restart: ${acked.length} PUBACKed to the publisher, ` +
                `${connection()?.unacked.size ?? 0} deliveries held un-acknowledged by the bridge`,
            );
          await sleep(5);
        }
        const atFault = connection()!;
        const faultIndex = atFault.index;
        const before = {
          acked: acked.length,
          stored: await countMessages(db.url), // nothing commits while the lock is held
          received: bridge.stats().received,
        };
        await broker.restart(1000);
        while (atFault.heldAtClose === undefined) await sleep(5);
        const deadline = Date.now() + 15_000;
        while (states.filter((s) => s.startsWith("online")).length < 2 && Date.now() < deadline)
          await sleep(20);
        await lock.query("COMMIT");
        await lock.end();
        lock = undefined;
        await publishing;
        await pub.endAsync();
        await (dropsQueuedMessages === undefined
          ? waitForCount(db.url, MESSAGES, 60_000)
          : waitForCountOrIdle(db.url, MESSAGES, () => bridge.stats().buffered, 60_000));
        const { hashes } = await storedHashes(db.url);
        const missing = acked.filter((item) => !hashes.has(item.hash));
        // Acknowledgement after COMMIT: the bridge never PUBACKed a message that is not stored.
        expect(
          missing.filter((item) => tap.acknowledged(item.topic, item.payload)).map((item) => item.hash),
          "messages the bridge acknowledged that are not stored",
        ).toEqual([]);
        if (dropsQueuedMessages === undefined) expect(missing, "messages not stored").toEqual([]);
        else if (missing.length > 0)
          console.info(
            `[restart ${name}] the broker dropped ${missing.length} queued messages that the bridge never ` +
              `acknowledged (${dropsQueuedMessages})`,
          );
        const held = atFault.heldAtClose;
        const sinceRestart = (): TappedConnection[] => tap.connections.slice(faultIndex + 1);
        const redeliveredSoFar = (): number => sinceRestart().reduce((n, c) => n + c.redelivered, 0);
        // Every delivery held at the restart must come again (QoS 1, persistent session): wait until it came.
        for (
          const end = Date.now() + 30_000;
          redeliveredSoFar() < held - missing.length && Date.now() < end;
        )
          await sleep(20);
        const { duplicates, received } = bridge.stats();
        await bridge.stop({ drain: true, seal: true });
        // The first connection after the restart that got anything: the resumed session's redeliveries.
        const resumed = sinceRestart().find((c) => c.delivered > 0);
        const redelivered = resumed?.redelivered ?? 0;
        const redeliveredInAll = redeliveredSoFar();
        // Sessions resumed again later (today aedes often closes the resumed connection once more).
        const laterSessions = sinceRestart().filter(
          (c) => c.index > (resumed?.index ?? 0) && c.delivered > 0,
        ).length;
        const backlog = before.acked - before.stored;
        console.info(
          `[restart ${name}] broker down at ${before.stored} stored / ${before.received} received by the bridge / ` +
            `${before.acked} PUBACKed to the publisher (backlog ${backlog}); deliveries the bridge held ` +
            `un-acked: ${held}; redelivered on the resumed session: ${redelivered} (sessions resumed again after it: ` +
            `${laterSessions}; ${redeliveredInAll} redeliveries in all); recognised as ` +
            `duplicates: ${duplicates}; received in all: ${received}`,
        );
        // The guards: the broker went down mid-stream, holding messages not yet stored for the bridge, while
        // the bridge held deliveries it had not acknowledged.
        expect(before.stored, "the restart must fall mid-stream").toBeGreaterThan(0);
        expect(
          backlog,
          "messages PUBACKed to the publisher, not stored, when the broker went down",
        ).toBeGreaterThan(MIN_BACKLOG);
        expect(held, "deliveries the bridge held un-acknowledged when the broker went down").toBeGreaterThan(
          0,
        );
        // Every delivery the broker had in flight comes again (so > 0); the resumed session brings nothing else
        // beyond a window (the publisher's own in-flight publishes, sent again after the restart).
        expect(redeliveredInAll, "redeliveries after the restart").toBeGreaterThanOrEqual(
          held - missing.length,
        );
        if (dropsQueuedMessages === undefined) {
          expect(redelivered, "redeliveries on the resumed session").toBeLessThanOrEqual(held + WINDOW);
          // Over every later session too: what the broker had in flight to each closed connection, give or
          // take a window per connection.
          const closedSince = sinceRestart().slice(0, -1);
          const inFlightSince = closedSince.reduce((n, c) => n + (c.heldAtClose ?? 0), 0);
          expect(redeliveredInAll, "redeliveries after the restart, in all").toBeLessThanOrEqual(
            held + inFlightSince + WINDOW * (closedSince.length + 1),
          );
        }
        // A duplicate is a redelivery of something already stored.
        expect(duplicates).toBeLessThanOrEqual(redeliveredInAll);
        expect(received).toBeLessThanOrEqual(tap.totals().delivered);
        expect(states.some((s) => s.startsWith("offline"))).toBe(true);
        const online = states.filter((s) => s.startsWith("online"));
        expect(online.length).toBeGreaterThanOrEqual(2);
        expect(online.at(-1), "the broker must have kept the session").toContain("session resumed");
        await expectStoredExactlyOnce(
          db.url,
          acked.filter((item) => hashes.has(item.hash)),
        );
        expect(acked).toHaveLength(MESSAGES);
        await forgetSession(broker.url, clientId);
        await forgetSession(broker.url, `${clientId}-pub`);
      } finally {
        await lock?.end();
        await tap.close();
        await broker.stop();
        await db.drop();
      }
    },
    120_000,
  );
});
