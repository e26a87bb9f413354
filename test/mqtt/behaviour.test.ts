import { connectAsync } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LifecycleError, SourceError } from "../../src/errors.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { waitFor } from "../../src/testing/index.js";
import {
  freePort,
  hasMosquitto,
  machineBroker,
  startAedes,
  startMosquitto,
  startProxy,
  type TestBroker,
} from "./support/brokers.js";
import { collector, publishAll, publisher, receivedBefore, uniqueId } from "./support/collect.js";
import { brokerTargets, forgetSession, startSource } from "./support/targets.js";

describe.each(brokerTargets())("MQTT source behaviour on $name", (target) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await target.start();
  });
  afterAll(() => broker.stop());

  it("QoS 0 subscription: messages arrive with qos 0, ack() is a no-op, nothing is redelivered (at-most-once)", async () => {
    const clientId = uniqueId("vb-q0");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const first = await startSource(broker.url, topic, { clientId, qos: 0 });
    await publishAll(broker.url, topic, ["a", "b"]);
    await first.seen.waitForMessages(2);
    expect(first.seen.messages.map((m) => m.qos)).toEqual([0, 0]);
    expect(first.source.heldAcks).toBe(0);
    first.seen.messages[0]!.ack();
    await first.source.stop(); // "b" never acknowledged
    const second = await startSource(broker.url, topic, { clientId, qos: 0 });
    expect(await receivedBefore(broker.url, topic, second.seen)).toEqual([]);
    await second.source.stop();
    await forgetSession(broker.url, clientId);
  });

  it("QoS 1 subscription: a message published at QoS 0 is delivered at QoS 0 with nothing to acknowledge", async () => {
    const clientId = uniqueId("vb-pub0");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const { source, seen } = await startSource(broker.url, topic, { clientId });
    await publishAll(broker.url, topic, ["zero"], { qos: 0 });
    await seen.waitForMessages(1);
    expect(seen.messages[0]!.qos).toBe(0);
    expect(source.heldAcks).toBe(0);
    await source.stop();
    await forgetSession(broker.url, clientId);
  });

  it("retained messages are delivered like any other, flagged retained, and again on each new subscription", async () => {
    const clientId = uniqueId("vb-ret");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    await publishAll(broker.url, topic, ['{"retained":true}'], { retain: true });
    try {
      const first = await startSource(broker.url, topic, { clientId });
      await first.seen.waitForMessages(1);
      expect(first.seen.messages[0]!.retained).toBe(true);
      first.seen.messages[0]!.ack();
      await publishAll(broker.url, topic, ["live"]);
      await first.seen.waitForMessages(2);
      expect(first.seen.messages[1]!.retained).toBe(false);
      first.seen.messages[1]!.ack();
      expect(await receivedBefore(broker.url, topic, first.seen)).toEqual([]);
      await first.source.stop();
      const second = await startSource(broker.url, topic, { clientId });
      await second.seen.waitForMessages(1);
      expect(second.seen.texts()).toEqual(['{"retained":true}']);
      second.seen.messages[0]!.ack();
      await second.source.stop();
    } finally {
      await publishAll(broker.url, topic, [""], { retain: true }); // clear it
      await forgetSession(broker.url, clientId);
    }
  });

  it("pause() stops reading: nothing is delivered or acknowledged; resume() delivers everything in order", async () => {
    const clientId = uniqueId("vb-pause");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const { source, seen } = await startSource(broker.url, topic, { clientId });
    source.pause();
    const payloads = Array.from({ length: 10 }, (_, i) => `p${i}`);
    await publishAll(broker.url, topic, payloads);
    await waitFor(() => source.stalled, "the connection to stall behind the first kept message");
    expect(seen.messages).toHaveLength(0);
    source.resume();
    await seen.waitForMessages(10);
    expect(seen.texts()).toEqual(payloads);
    for (const m of seen.messages) m.ack();
    expect(source.heldAcks).toBe(0);
    expect(source.stalled).toBe(false);
    await source.stop();
    await forgetSession(broker.url, clientId);
  });

  it("a long pause keeps the connection alive (its own PINGREQs) and loses nothing; nothing comes back after", async () => {
    const clientId = uniqueId("vb-longpause");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const proxy = await startProxy(broker.url);
    try {
      const { source, seen } = await startSource(proxy.url, topic, { clientId, keepaliveSeconds: 1 });
      source.pause();
      const payloads = Array.from({ length: 40 }, (_, i) => `q${i}`);
      await publishAll(broker.url, topic, payloads);
      await waitFor(() => source.stalled, "the connection to stall");
      const pings = proxy.pingreqs;
      // Well past 1.5 × keepalive: without PINGREQs the broker or MQTT.js would have dropped the connection.
      await waitFor(() => proxy.pingreqs >= pings + 4, "four PINGREQs while stalled", 10_000);
      expect(seen.statuses.filter((s) => s.state !== "online")).toEqual([]);
      expect(seen.messages).toHaveLength(0);
      source.resume();
      await seen.waitForMessages(40);
      expect(seen.texts()).toEqual(payloads);
      for (const m of seen.messages) m.ack();
      expect(await receivedBefore(broker.url, topic, seen)).toEqual([]);
      await source.stop();
      const again = await startSource(broker.url, topic, { clientId });
      expect(await receivedBefore(broker.url, topic, again.seen), "everything was acknowledged").toEqual([]);
      await again.source.stop();
    } finally {
      await proxy.close();
      await forgetSession(broker.url, clientId);
    }
  });

  it("reports online, and enforces its lifecycle (one start, none after stop)", async () => {
    const clientId = uniqueId("vb-life");
    const { source, seen } = await startSource(broker.url, `vbmqtt/${clientId}/+/+/data`, { clientId });
    expect(seen.statuses[0]).toMatchObject({ state: "online" });
    expect(source.subscription).toBe(`vbmqtt/${clientId}/+/+/data`);
    await expect(source.start({ topicFilter: "x", handlers: collector().handlers })).rejects.toBeInstanceOf(
      LifecycleError,
    );
    await source.stop();
    await source.stop();
    await expect(source.start({ topicFilter: "x", handlers: collector().handlers })).rejects.toMatchObject({
      code: "STOPPED",
    });
    await forgetSession(broker.url, clientId);
  });

  it("uses the `topic` option instead of the bridge's filter", async () => {
    const clientId = uniqueId("vb-topic");
    const { source, seen } = await startSource(broker.url, "never/+", {
      clientId,
      topic: `vbmqtt/${clientId}/#`,
    });
    await publishAll(broker.url, `vbmqtt/${clientId}/s/d/data`, ["t"]);
    await seen.waitForMessages(1);
    expect(source.subscription).toBe(`vbmqtt/${clientId}/#`);
    seen.messages[0]!.ack();
    await source.stop();
    await forgetSession(broker.url, clientId);
  });
});

describe("MQTT source failures", () => {
  it("start() rejects with a SourceError when the broker is unreachable within connectTimeoutMs", async () => {
    const port = await freePort();
    const source = mqttSource({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: uniqueId(),
      connectTimeoutMs: 800,
    });
    const seen = collector();
    const started = Date.now();
    await expect(source.start({ topicFilter: "a/#", handlers: seen.handlers })).rejects.toBeInstanceOf(
      SourceError,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(seen.statuses.some((s) => s.state === "error")).toBe(true);
  });

  it("stop() during start() rejects the start with STOPPED at once", async () => {
    const port = await freePort();
    const source = mqttSource({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: uniqueId(),
      connectTimeoutMs: 30_000,
    });
    const seen = collector();
    const starting = source.start({ topicFilter: "a/#", handlers: seen.handlers });
    await seen.waitForStatus("error");
    const began = Date.now();
    await source.stop();
    await expect(starting).rejects.toMatchObject({ code: "STOPPED" });
    expect(Date.now() - began).toBeLessThan(3000);
  });

  it.skipIf(machineBroker() === undefined && !hasMosquitto())(
    "MQTT 5 (mosquitto): a connection taken over by another client with the same id is reported, then regained",
    async () => {
      const broker = machineBroker() ?? (await startMosquitto());
      const clientId = uniqueId("vb-takeover");
      try {
        const { source, seen } = await startSource(broker.url, `vbmqtt/${clientId}/#`, {
          clientId,
          protocolVersion: 5,
        });
        const intruder = await connectAsync(broker.url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
        intruder.on("error", () => {});
        await seen.waitForStatus("offline");
        await seen.waitForStatus(
          "online",
          seen.statuses.findIndex((s) => s.state === "offline"),
        );
        await intruder.endAsync(true);
        await source.stop();
        await forgetSession(broker.url, clientId, 5);
      } finally {
        await broker.stop();
      }
    },
  );

  it("start() rejects at once when the broker refuses the credentials, without leaking the password", async () => {
    const broker = await startAedes({ password: "right" });
    try {
      const source = mqttSource({
        url: broker.url,
        clientId: uniqueId(),
        username: "u",
        password: "wrong-pw",
      });
      const error = await source
        .start({ topicFilter: "a/#", handlers: collector().handlers })
        .catch((e) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect(String(error.message)).not.toContain("wrong-pw");
      const ok = mqttSource({ url: broker.url, clientId: uniqueId(), username: "u", password: "right" });
      await ok.start({ topicFilter: "a/#", handlers: collector().handlers });
      await ok.stop();
    } finally {
      await broker.stop();
    }
  });

  // aedes has no shared subscriptions: this one needs mosquitto (the machine's, or one of our own).
  it.skipIf(machineBroker() === undefined && !hasMosquitto())(
    "shared subscription (mosquitto): two sources in one group split the stream, each message delivered once",
    async () => {
      const broker = machineBroker() ?? (await startMosquitto());
      try {
        const topic = `vbmqtt/${uniqueId()}/s/d/data`;
        const a = await startSource(broker.url, topic, { clientId: uniqueId("a"), sharedGroup: "bridges" });
        const b = await startSource(broker.url, topic, { clientId: uniqueId("b"), sharedGroup: "bridges" });
        expect(a.source.subscription).toBe(`$share/bridges/${topic}`);
        const pub = await publisher(broker.url);
        for (let i = 0; i < 20; i++) await pub.publishAsync(topic, `s${i}`, { qos: 1 });
        await pub.endAsync();
        await waitFor(() => a.seen.messages.length + b.seen.messages.length >= 20, "20 deliveries");
        expect(await receivedBefore(broker.url, topic, a.seen)).toEqual([]);
        const all = [...a.seen.texts(), ...b.seen.texts()].filter((t) => t.startsWith("s")).sort();
        expect(all).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`).sort());
        for (const m of [...a.seen.messages, ...b.seen.messages]) m.ack();
        await a.source.stop();
        await b.source.stop();
      } finally {
        await broker.stop();
      }
    },
  );

  it.skipIf(machineBroker() === undefined && !hasMosquitto())(
    "MQTT 5 (mosquitto): receiveMaximum bounds the un-acknowledged messages the broker sends",
    async () => {
      const broker = machineBroker() ?? (await startMosquitto());
      const clientId = uniqueId("vb-rm");
      const topic = `vbmqtt/${clientId}/s/d/data`;
      try {
        const options = { clientId, protocolVersion: 5 as const, receiveMaximum: 5, clean: true };
        const { source, seen } = await startSource(broker.url, topic, options);
        expect(source.maxInFlight).toBe(5);
        await publishAll(
          broker.url,
          topic,
          Array.from({ length: 12 }, (_, i) => `r${i}`),
        );
        await seen.waitForMessages(5);
        // The publisher got all 12 PUBACKs: the broker holds 7 back because none of the 5 is acknowledged.
        expect(seen.messages).toHaveLength(5);
        for (const m of seen.messages) m.ack();
        await seen.waitForMessages(10);
        for (const m of seen.messages) m.ack();
        await seen.waitForMessages(12);
        for (const m of seen.messages) m.ack();
        await source.stop();
      } finally {
        await broker.stop();
      }
    },
  );
});
