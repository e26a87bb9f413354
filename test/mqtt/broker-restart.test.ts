import { connectAsync } from "mqtt";
import { describe, expect, it } from "vitest";
import { createBridge } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { createTestDatabase } from "../support/database.js";
import { type AedesBroker, hasMosquitto, startAedes, startMosquitto } from "./support/brokers.js";
import { sleep, uniqueId } from "./support/collect.js";
import {
  countMessages,
  expectStoredExactlyOnce,
  publishConcurrently,
  readings,
  waitForCount,
} from "./support/pipeline.js";
import { forgetSession } from "./support/targets.js";

const MESSAGES = 4000;
const RESTART_AT = 1500; // messages PUBACKed to the publisher when the broker goes down

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

const cases: Array<{ name: string; start: () => Promise<RestartableBroker> }> = [
  { name: "aedes (persistence kept across the restart)", start: aedesWithPersistence },
];
if (hasMosquitto()) cases.push({ name: "mosquitto (persistence true)", start: mosquittoWithPersistence });

describe.concurrent("broker restarted mid-stream", () => {
  it.each(cases)(
    "$name: the bridge reconnects by itself and nothing is lost",
    async ({ name, start }) => {
      const broker = await start();
      const db = await createTestDatabase("vb_mqtt_restart");
      const clientId = uniqueId("vb-restart");
      const tenant = uniqueId("r");
      try {
        const bridge = createBridge({
          source: mqttSource({
            url: broker.url,
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
        while (acked.length < RESTART_AT) await sleep(5);
        const before = {
          stored: await countMessages(db.url),
          acked: acked.length,
          received: bridge.stats().received,
        };
        await broker.restart(1000);
        const deadline = Date.now() + 15_000;
        while (states.filter((s) => s.startsWith("online")).length < 2 && Date.now() < deadline)
          await sleep(20);
        await publishing;
        await pub.endAsync();
        await waitForCount(db.url, MESSAGES, 60_000);
        const { duplicates } = bridge.stats();
        await bridge.stop({ drain: true, seal: true });
        console.info(
          `[restart ${name}] broker down at ${before.stored} stored / ${before.received} received by the bridge / ` +
            `${before.acked} PUBACKed to the publisher; redeliveries recognised as duplicates: ${duplicates}`,
        );
        expect(before.acked, "the restart must fall mid-stream").toBeLessThan(MESSAGES);
        expect(states.some((s) => s.startsWith("offline"))).toBe(true);
        const online = states.filter((s) => s.startsWith("online"));
        expect(online.length).toBeGreaterThanOrEqual(2);
        expect(online.at(-1), "the broker must have kept the session").toContain("session resumed");
        await expectStoredExactlyOnce(db.url, acked);
        expect(acked).toHaveLength(MESSAGES);
        await forgetSession(broker.url, clientId);
        await forgetSession(broker.url, `${clientId}-pub`);
      } finally {
        await broker.stop();
        await db.drop();
      }
    },
    120_000,
  );
});
