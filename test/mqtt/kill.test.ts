import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { hasMosquitto, startAedes, startMosquitto, type TestBroker } from "./support/brokers.js";
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
}

// The machine's mosquitto keeps at most 1000 queued messages per client (then DROPS QoS 1 messages it already
// PUBACKed to the publisher): a kill test that builds a backlog needs a broker without that limit.
const cases: Case[] = [{ name: "aedes", start: () => startAedes() }];
if (hasMosquitto()) cases.push({ name: "mosquitto (max_queued_messages 0)", start: () => startMosquitto() });

describe.concurrent("bridge process SIGKILLed mid-stream while it holds a backlog", () => {
  it.each(cases)(
    "$name: every message the publisher got PUBACKed for is stored exactly once, every batch verifies",
    async ({ name, start }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_mqtt_kill");
      const clientId = uniqueId("vb-kill");
      const tenant = uniqueId("k");
      const env = { MQTT_URL: broker.url, DATABASE_URL: db.url, CLIENT_ID: clientId };
      try {
        await migrateDatabase(db.url);
        let bridge: BridgeProcess = spawnBridge(env);
        await bridge.ready;
        const items = readings(tenant, MESSAGES, 8);
        const acked: typeof items = [];
        const pub = await publisher(broker.url);
        const publishing = publishConcurrently(pub, items, {
          window: 100,
          onAcked: (item) => acked.push(item),
        });
        const backlogs: number[] = [];
        let duplicates = 0;
        for (const at of KILL_AT) {
          let stored = await countMessages(db.url);
          while (stored < at) {
            await sleep(20);
            stored = await countMessages(db.url);
          }
          backlogs.push(acked.length - stored);
          await bridge.kill("SIGKILL");
          duplicates += bridge.counts.duplicates;
          await sleep(200);
          bridge = spawnBridge(env);
          await bridge.ready;
        }
        await publishing;
        await pub.endAsync();
        await waitForCount(db.url, acked.length, 90_000);
        await bridge.kill("SIGTERM");
        duplicates += bridge.counts.duplicates;
        console.info(
          `[kill ${name}] ${KILL_AT.length} SIGKILLs; backlog (PUBACKed to publisher, not yet stored) at each kill: ` +
            `${backlogs.join(", ")}; redeliveries recognised as duplicates: ${duplicates}`,
        );
        // The kills must have hit while the bridge was behind, or the test proves nothing.
        expect(Math.max(...backlogs)).toBeGreaterThan(100);
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
