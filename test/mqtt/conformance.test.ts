import { afterAll, beforeAll, describe } from "vitest";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { sourceConformance } from "../../src/testing/index.js";
import type { TestBroker } from "./support/brokers.js";
import { publisher, uniqueId } from "./support/collect.js";
import { brokerTargets, forgetSession } from "./support/targets.js";

describe.each(brokerTargets())("MQTT source on $name", (target) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await target.start();
  });
  afterAll(() => broker.stop());

  sourceConformance(`mqtt (${target.name})`, async () => {
    const clientId = uniqueId("vb-conf");
    const make = () =>
      mqttSource({ url: broker.url, clientId, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
    const pub = await publisher(broker.url);
    return {
      source: make(),
      publish: async (topic, payload) => {
        await pub.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), {
          qos: 1,
        });
      },
      reconnect: async () => make(),
      dispose: async () => {
        await pub.endAsync();
        await forgetSession(broker.url, clientId);
      },
    };
  });
});
