import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceError } from "../../src/errors.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { makeCertificates } from "../support/certificates.js";
import { hasMosquitto, type MosquittoBroker, startMosquitto } from "./support/brokers.js";
import { collector, uniqueId } from "./support/collect.js";
import { startSource } from "./support/targets.js";

const skip = !hasMosquitto("the TLS tests");

describe.skipIf(skip)("MQTT source over TLS (mqtts://) to a mosquitto of our own", () => {
  let dir: string;
  let ca: string;
  let broker: MosquittoBroker | undefined;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-tls-"));
    const files = await makeCertificates(dir);
    ca = files.ca;
    // The extra lines follow startMosquitto's only `listener`, so they make that listener TLS-only.
    broker = await startMosquitto([
      `cafile ${files.caFile}`,
      `certfile ${files.cert}`,
      `keyfile ${files.key}`,
    ]);
    url = `mqtts://127.0.0.1:${broker.port}`;
  });

  afterAll(async () => {
    await broker?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Publishes `payload` at QoS 1 over TLS, trusting our CA. */
  async function publishTls(topic: string, payload: string): Promise<void> {
    const client = await connectAsync(url, { ca, clientId: uniqueId("pub-tls"), reconnectPeriod: 0 });
    try {
      await client.publishAsync(topic, payload, { qos: 1 });
    } finally {
      await client.endAsync();
    }
  }

  it("the listener speaks TLS only: a plain mqtt:// connection to it does not come up", async () => {
    const source = mqttSource({ url: `mqtt://127.0.0.1:${broker!.port}`, connectTimeoutMs: 1500 });
    await expect(
      source.start({ topicFilter: "vbmqtt/plain/#", handlers: collector().handlers }),
    ).rejects.toBeInstanceOf(SourceError);
  });

  it("with tls.ca our CA, mqttSource connects over TLS and receives a published message", async () => {
    const clientId = uniqueId("vb-tls");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const { source, seen } = await startSource(url, topic, {
      clientId,
      clean: true,
      connectTimeoutMs: 5000,
      tls: { ca },
    });
    try {
      await publishTls(topic, '{"over":"tls"}');
      await seen.waitForMessages(1);
      expect(seen.texts()).toEqual(['{"over":"tls"}']);
      expect(seen.messages[0]!.topic).toBe(topic);
      seen.messages[0]!.ack();
    } finally {
      await source.stop();
    }
  });

  it("without tls.ca (rejectUnauthorized defaults to true), start() rejects at once: the certificate is not trusted", async () => {
    const source = mqttSource({
      url,
      clientId: uniqueId("vb-tls-untrusted"),
      clean: true,
      connectTimeoutMs: 10_000,
      reconnect: { minDelayMs: 100, maxDelayMs: 200 },
    });
    const seen = collector();
    const begun = Date.now();
    const started = source.start({ topicFilter: "vbmqtt/untrusted/#", handlers: seen.handlers });
    await expect(started).rejects.toBeInstanceOf(SourceError);
    await expect(started).rejects.toThrow(/TLS certificate was not accepted .*tls\.ca/);
    expect(
      Date.now() - begun,
      "a certificate error is final, not retried until connectTimeoutMs",
    ).toBeLessThan(5000);
    // Why it did not connect is reported as the source's error status: Node's certificate verification.
    const errors = seen.statuses.flatMap((s) => (s.state === "error" ? [s.error] : []));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(SourceError);
    expect(errors.map((e) => e?.message).join("\n")).toMatch(/certificate/i);
    expect(seen.messages).toEqual([]);
  });

  it("with tls.rejectUnauthorized false and no ca, it connects (and receives) anyway", async () => {
    const clientId = uniqueId("vb-tls-insecure");
    const topic = `vbmqtt/${clientId}/s/d/data`;
    const { source, seen } = await startSource(url, topic, {
      clientId,
      clean: true,
      connectTimeoutMs: 5000,
      tls: { rejectUnauthorized: false },
    });
    try {
      await publishTls(topic, '{"insecure":true}');
      await seen.waitForMessages(1);
      expect(seen.texts()).toEqual(['{"insecure":true}']);
      seen.messages[0]!.ack();
    } finally {
      await source.stop();
    }
  });
});
