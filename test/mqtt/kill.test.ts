import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import {
  hasMosquitto,
  machineBroker,
  startAedes,
  startMosquitto,
  type TestBroker,
} from "./support/brokers.js";
import { publisher, sleep, uniqueId } from "./support/collect.js";
import {
  type BridgeProcess,
  countMessages,
  expectStoredExactlyOnce,
  migrateDatabase,
  publishConcurrently,
  readings,
  spawnBridge,
  waitForCount,
} from "./support/pipeline.js";
import { forgetSession } from "./support/targets.js";

const MESSAGES = 5000;
const KILL_AT = [800, 2000, 3200]; // messages stored when each SIGKILL hits

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
}

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
const cases: Case[] = [{ name: "aedes", start: () => startAedes() }];
if (hasMosquitto()) {
  cases.push({ name: "mosquitto (max_queued_messages 0)", start: () => startMosquitto() });
  // aedes speaks MQTT 3.1.1 only; MQTT 5 runs on a mosquitto of our own.
  cases.push({
    name: "mosquitto (max_queued_messages 0), MQTT 5",
    start: mosquittoLoggingProtocols,
    protocolVersion: 5,
  });
}
const machine = machineBroker();
if (machine !== undefined)
  cases.push({ name: "MQTT_URL (≤700 ahead)", start: async () => machine, maxAhead: 700 });

describe.concurrent("bridge process SIGKILLed mid-stream while it holds a backlog", () => {
  it.each(cases)(
    "$name: every message the publisher got PUBACKed for is stored exactly once, every batch verifies",
    async ({ name, start, maxAhead, protocolVersion = 4 }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_mqtt_kill");
      const clientId = uniqueId("vb-kill");
      const tenant = uniqueId("k");
      const env = {
        MQTT_URL: broker.url,
        DATABASE_URL: db.url,
        CLIENT_ID: clientId,
        TENANT: tenant,
        ...(protocolVersion === 5 ? { VB_MQTT_PROTOCOL: "5" as const } : {}),
      };
      try {
        await migrateDatabase(db.url);
        let bridge: BridgeProcess = spawnBridge(env);
        await bridge.ready;
        const items = readings(tenant, MESSAGES, 8);
        const acked: typeof items = [];
        const pub = await publisher(broker.url, protocolVersion);
        let stored = 0;
        let sent = 0;
        const gate =
          maxAhead === undefined
            ? undefined
            : async (): Promise<void> => {
                sent++;
                while (sent - stored > maxAhead) await sleep(5);
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
          ...(gate ? { gate } : {}),
        });
        const backlogs: number[] = [];
        let duplicates = 0;
        for (const at of KILL_AT) {
          while (stored < at) await sleep(10);
          backlogs.push(acked.length - stored);
          await bridge.kill("SIGKILL");
          duplicates += bridge.counts.duplicates;
          await sleep(200);
          bridge = spawnBridge(env);
          await bridge.ready;
        }
        await publishing;
        await pub.endAsync();
        watching.on = false;
        await watcher;
        await waitForCount(db.url, acked.length, 90_000);
        await bridge.kill("SIGTERM");
        duplicates += bridge.counts.duplicates;
        console.info(
          `[kill ${name}] ${KILL_AT.length} SIGKILLs; backlog (PUBACKed to publisher, not yet stored) at each kill: ` +
            `${backlogs.join(", ")}; redeliveries recognised as duplicates: ${duplicates}`,
        );
        // Every kill must hit while the bridge is behind, or the test proves nothing.
        expect(Math.min(...backlogs)).toBeGreaterThan(100);
        await expectStoredExactlyOnce(db.url, acked);
        expect(acked).toHaveLength(MESSAGES);
        if ("protocolsOf" in broker) {
          // The first bridge and one restarted bridge per kill, every one of them on the asked protocol.
          const protocols = await broker.protocolsOf(clientId);
          expect(protocols.length).toBeGreaterThanOrEqual(KILL_AT.length + 1);
          expect(new Set(protocols)).toEqual(new Set([protocolVersion === 5 ? "p5" : "p2"]));
        }
        await forgetSession(broker.url, clientId, protocolVersion);
      } finally {
        await broker.stop();
        await db.drop();
      }
    },
    150_000,
  );
});
