import { connect } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceError } from "../../src/errors.js";
import { installPubackInterceptor } from "../../src/sources/mqtt/puback-interceptor.js";
import { type CuttableProxy, startAedes, startProxy, type TestBroker } from "./support/brokers.js";
import { publishAll, receivedBefore, uniqueId, until } from "./support/collect.js";
import { brokerTargets, forgetSession, startSource } from "./support/targets.js";

const BROKEN =
  "MQTT.js internals changed: the PUBACK interception in src/sources/mqtt/puback-interceptor.ts no longer " +
  "holds acknowledgements until ack() — do not upgrade mqtt until it is fixed";

const versionsOf = (mqtt5: boolean): Array<4 | 5> => (mqtt5 ? [4, 5] : [4]);

describe.each(brokerTargets())("PUBACK interception on $name", (target) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await target.start();
  });
  afterAll(() => broker.stop());

  describe.each(versionsOf(target.mqtt5))("MQTT protocol %i", (protocolVersion) => {
    it("redelivers an un-acknowledged message after reconnecting with the same clientId, not an acknowledged one", async () => {
      const clientId = uniqueId("vb-ack");
      const topic = `vbmqtt/${clientId}/site/dev/data`;
      const options = { clientId, protocolVersion };
      const first = await startSource(broker.url, topic, options);
      await publishAll(broker.url, topic, ["m1", "m2", "m3", "m4", "m5"]);
      await first.seen.waitForMessages(5);
      first.seen.messages[0]!.ack();
      first.seen.messages[1]!.ack();
      expect(first.source.heldAcks, BROKEN).toBe(3);
      await first.source.stop(); // sends the PUBACKs released so far, then disconnects

      const second = await startSource(broker.url, topic, options);
      await second.seen.waitForMessages(3).catch(() => {});
      expect(second.seen.texts(), BROKEN).toEqual(["m3", "m4", "m5"]);
      for (const m of second.seen.messages) m.ack();
      await second.source.stop();

      const third = await startSource(broker.url, topic, options);
      // Nothing comes before a marker published now: no acknowledged message is delivered again.
      expect(await receivedBefore(broker.url, topic, third.seen), BROKEN).toEqual([]);
      await third.source.stop();
      const errors = [first, second, third].flatMap((r) =>
        r.seen.statuses.filter((s) => s.state === "error"),
      );
      expect(errors, "no PUBACK may escape the interception").toEqual([]);
      await forgetSession(broker.url, clientId, protocolVersion);
    });

    it("sends PUBACKs in arrival order: a later ack waits for every earlier one", async () => {
      const clientId = uniqueId("vb-order");
      const topic = `vbmqtt/${clientId}/site/dev/data`;
      const options = { clientId, protocolVersion };
      const first = await startSource(broker.url, topic, options);
      await publishAll(broker.url, topic, ["a", "b", "c"]);
      await first.seen.waitForMessages(3);
      first.seen.messages[2]!.ack();
      first.seen.messages[1]!.ack();
      expect(first.source.heldAcks, "acks of b and c must wait for a").toBe(3);
      await first.source.stop();

      const second = await startSource(broker.url, topic, options);
      await second.seen.waitForMessages(3);
      expect(second.seen.texts(), BROKEN).toEqual(["a", "b", "c"]);
      second.seen.messages[0]!.ack();
      expect(second.source.heldAcks).toBe(2);
      second.seen.messages[1]!.ack();
      second.seen.messages[1]!.ack(); // twice is harmless
      second.seen.messages[2]!.ack();
      expect(second.source.heldAcks).toBe(0);
      await second.source.stop();

      const third = await startSource(broker.url, topic, options);
      expect(await receivedBefore(broker.url, topic, third.seen), BROKEN).toEqual([]);
      await third.source.stop();
      await forgetSession(broker.url, clientId, protocolVersion);
    });
  });

  describe.each(versionsOf(target.mqtt5))(
    "when the connection drops (MQTT protocol %i)",
    (protocolVersion) => {
      let proxy: CuttableProxy;
      beforeAll(async () => {
        proxy = await startProxy(broker.url);
      });
      afterAll(() => proxy.close());

      it("discards acks held for the dropped connection; the broker redelivers those messages", async () => {
        const clientId = uniqueId("vb-drop");
        const topic = `vbmqtt/${clientId}/site/dev/data`;
        const { source, seen } = await startSource(proxy.url, topic, { clientId, protocolVersion });
        await publishAll(broker.url, topic, ["x1", "x2", "x3"]);
        await seen.waitForMessages(3);
        const sent = proxy.bytesToBroker;
        seen.messages[0]!.ack(); // x1 settled before the drop: its 4-byte PUBACK passes the proxy
        await until(() => proxy.bytesToBroker >= sent + 4, "the PUBACK of x1 on its way to the broker");
        const mark = seen.statuses.length;
        proxy.cut();
        await seen.waitForStatus("offline", mark);
        await seen.waitForStatus("online", mark);
        seen.messages[1]!.ack(); // ack of the dropped connection: ignored
        await seen.waitForMessages(5);
        expect(seen.texts()).toEqual(["x1", "x2", "x3", "x2", "x3"]);
        expect(source.heldAcks, "only the redelivered copies are held").toBe(2);
        // mosquitto sets DUP on a redelivery; aedes does not.
        if (target.name !== "aedes") expect(seen.messages[3]!.redelivered).toBe(true);
        for (const m of seen.messages.slice(3)) m.ack();
        await source.stop();

        const again = await startSource(broker.url, topic, { clientId, protocolVersion });
        expect(
          await receivedBefore(broker.url, topic, again.seen),
          "nothing may be redelivered once acknowledged",
        ).toEqual([]);
        await again.source.stop();
        await forgetSession(broker.url, clientId, protocolVersion);
      });
    },
  );
});

describe("guards against a changed MQTT.js", () => {
  it("refuses to install when the internals it relies on are missing", () => {
    const client = connect("mqtt://127.0.0.1:1", { manualConnect: true });
    (client as unknown as { _sendPacket: unknown })._sendPacket = undefined;
    expect(() =>
      installPubackInterceptor(
        client,
        () => {},
        () => {},
      ),
    ).toThrow(SourceError);
    expect(() =>
      installPubackInterceptor(
        client,
        () => {},
        () => {},
      ),
    ).toThrow(/mqtt version veep-bridge pins/);
  });

  it("reports a PUBACK that leaves by another path as a violation", async () => {
    const broker = await startAedes();
    try {
      const client = connect(broker.url, { manualConnect: true, reconnectPeriod: 0 });
      const violations: Error[] = [];
      installPubackInterceptor(
        client,
        () => {},
        (e) => violations.push(e),
      );
      client.connect();
      await new Promise((resolve) => client.once("connect", resolve));
      // What a future MQTT.js writing PUBACKs without `_sendPacket` would do:
      (client as unknown as { _writePacket(p: object): void })._writePacket({ cmd: "puback", messageId: 7 });
      await client.endAsync();
      expect(violations).toHaveLength(1);
      expect(violations[0]!.message).toMatch(/NOT guaranteed/);
    } finally {
      await broker.stop();
    }
  });
});
