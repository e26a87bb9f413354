import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { connectMqttPublisher, mqttSource } from "../../src/sources/mqtt/index.js";
import type { SourceMessage } from "../../src/sources/source.js";
import { waitFor } from "../../src/testing/index.js";

describe("connectMqttPublisher", () => {
  it("publishes QoS 1 messages that an mqttSource receives unchanged, in order", async () => {
    const tenant = `pub${randomUUID().slice(0, 8)}`;
    const received: SourceMessage[] = [];
    const source = mqttSource({ url: inject("mqttUrl"), clientId: `vb-pub-test-${tenant}`, clean: true });
    await source.start({
      topicFilter: `vbmqtt/${tenant}/+/+/data`,
      handlers: {
        message: (m) => {
          received.push(m);
          m.ack();
        },
        status: () => {},
      },
    });
    const publisher = await connectMqttPublisher(inject("mqttUrl"));
    try {
      for (let n = 0; n < 5; n++)
        await publisher.publish(`vbmqtt/${tenant}/s/D1/data`, JSON.stringify({ n }));
      await publisher.publish(`vbmqtt/${tenant}/s/D1/data`, new Uint8Array([0xc3, 0x28]));
      await waitFor(() => received.length >= 6, "6 messages");
      expect(received.slice(0, 5).map((m) => Buffer.from(m.payload).toString())).toEqual(
        [0, 1, 2, 3, 4].map((n) => JSON.stringify({ n })),
      );
      expect(Array.from(received[5]!.payload)).toEqual([0xc3, 0x28]);
    } finally {
      await publisher.close();
      await publisher.close();
      await source.stop();
    }
  });
});
