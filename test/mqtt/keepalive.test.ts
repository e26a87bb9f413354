import { describe, expect, it } from "vitest";
import { mosquittoTarget, startAedes, startProxy, type TestBroker } from "./support/brokers.js";
import { publishAll, receivedBefore, sleep, uniqueId } from "./support/collect.js";
import { forgetSession, startSource } from "./support/targets.js";

const HOLD_MS = 32_000;
const KEEPALIVE_S = 5;

interface Case {
  readonly name: string;
  readonly protocolVersion: 4 | 5;
  start(): Promise<TestBroker>;
}

const cases: Case[] = [{ name: "aedes", protocolVersion: 4, start: () => startAedes() }];
const mosquitto = mosquittoTarget("the mosquitto keepalive tests (MQTT 3.1.1 and 5)");
if (mosquitto !== undefined) {
  cases.push({ name: "mosquitto", protocolVersion: 4, start: mosquitto.start });
  cases.push({ name: "mosquitto", protocolVersion: 5, start: mosquitto.start });
}

describe.concurrent("keepalive while acknowledgements are held", () => {
  it.each(cases)(
    "$name, MQTT protocol $protocolVersion: the connection stays up for 32 s of held acks, then nothing is redelivered",
    async ({ start, protocolVersion }) => {
      const broker = await start();
      const proxy = await startProxy(broker.url);
      const clientId = uniqueId("vb-keepalive");
      const topic = `vbmqtt/${clientId}/site/dev/data`;
      const options = { clientId, protocolVersion, keepaliveSeconds: KEEPALIVE_S };
      try {
        const { source, seen } = await startSource(proxy.url, topic, options);
        const payloads = Array.from({ length: 30 }, (_, i) => `k${i}`);
        await publishAll(broker.url, topic, payloads);
        await seen.waitForMessages(20); // mosquitto's default in-flight window is 20
        const pingsBefore = proxy.pingreqs;
        const held = seen.messages.length;
        await sleep(HOLD_MS);
        expect(seen.statuses.map((s) => s.state)).toEqual(["online"]);
        expect(source.heldAcks).toBe(held);
        expect(proxy.pingreqs - pingsBefore).toBeGreaterThanOrEqual(
          Math.floor(HOLD_MS / 1000 / KEEPALIVE_S) - 1,
        );

        for (const m of seen.messages) m.ack();
        await seen.waitForMessages(30);
        for (const m of seen.messages) m.ack();
        expect(seen.texts()).toEqual(payloads);
        await source.stop(); // sends the PUBACKs released so far, then disconnects

        const again = await startSource(broker.url, topic, options);
        expect(
          await receivedBefore(broker.url, topic, again.seen),
          "nothing may be redelivered once acknowledged",
        ).toEqual([]);
        await again.source.stop();
        await forgetSession(broker.url, clientId, protocolVersion);
      } finally {
        await proxy.close();
        await broker.stop();
      }
    },
    60_000,
  );
});
