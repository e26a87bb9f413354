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

interface Case {
  readonly name: string;
  start(): Promise<TestBroker>;
  /** Keep the publisher at most this many messages ahead of the database. */
  readonly maxAhead?: number;
}

// mosquitto's default `max_queued_messages 1000` DROPS QoS 1 messages it already PUBACKed to the publisher once
// a client's queue is full. A backlog of thousands needs a broker without that limit (our own mosquitto); on the
// machine's broker (MQTT_URL, defaults) the publisher stays at most 700 messages ahead of the database.
const cases: Case[] = [{ name: "aedes", start: () => startAedes() }];
if (hasMosquitto()) cases.push({ name: "mosquitto (max_queued_messages 0)", start: () => startMosquitto() });
const machine = machineBroker();
if (machine !== undefined)
  cases.push({ name: "MQTT_URL (≤700 ahead)", start: async () => machine, maxAhead: 700 });

describe.concurrent("bridge process SIGKILLed mid-stream while it holds a backlog", () => {
  it.each(cases)(
    "$name: every message the publisher got PUBACKed for is stored exactly once, every batch verifies",
    async ({ name, start, maxAhead }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_mqtt_kill");
      const clientId = uniqueId("vb-kill");
      const tenant = uniqueId("k");
      const env = { MQTT_URL: broker.url, DATABASE_URL: db.url, CLIENT_ID: clientId, TENANT: tenant };
      try {
        await migrateDatabase(db.url);
        let bridge: BridgeProcess = spawnBridge(env);
        await bridge.ready;
        const items = readings(tenant, MESSAGES, 8);
        const acked: typeof items = [];
        const pub = await publisher(broker.url);
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
        await forgetSession(broker.url, clientId);
      } finally {
        await broker.stop();
        await db.drop();
      }
    },
    150_000,
  );
});
