import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Source, SourceMessage, SourceStatus } from "../sources/source.js";
import { expectCode } from "./expect-code.js";
import { waitFor } from "./fixtures.js";

/** What {@link sourceConformance} needs for each test. */
export interface SourceHarness {
  /** An un-started source. */
  readonly source: Source;
  /** Publishes one message through the transport (QoS 1 where that applies). */
  publish(topic: string, payload: string | Uint8Array): Promise<void>;
  /**
   * A new, un-started source over the same session (for MQTT: same client id, persistent session),
   * to check that unacknowledged messages are delivered again.
   */
  reconnect(): Promise<Source>;
  /** Stops everything the harness started. */
  dispose(): Promise<void>;
}

interface Received {
  readonly messages: SourceMessage[];
  readonly statuses: SourceStatus[];
}

async function startCollecting(source: Source, topicFilter: string, autoAck = false): Promise<Received> {
  const received: Received = { messages: [], statuses: [] };
  await source.start({
    topicFilter,
    handlers: {
      message: (m) => {
        received.messages.push(m);
        if (autoAck) m.ack();
      },
      status: (s) => received.statuses.push(s),
    },
  });
  return received;
}

const text = (m: SourceMessage): string => Buffer.from(m.payload).toString("utf8");

/**
 * The contract every {@link Source} must meet (see the `Source` documentation), as a vitest suite.
 * Each test publishes on its own tenant (`veep/<random>/…`) and subscribes to that tenant only, so
 * the suite can share a broker with other tests.
 *
 * @example
 * ```ts
 * import { sourceConformance } from "veep-bridge/testing";
 * sourceConformance("my source", async () => ({ source, publish, reconnect, dispose }));
 * ```
 */
export function sourceConformance(name: string, makeHarness: () => Promise<SourceHarness>): void {
  describe(`Source conformance: ${name}`, () => {
    let harness: SourceHarness;
    let tenant: string;
    let filter: string;
    const running: Source[] = [];
    const topic = (device: string): string => `veep/${tenant}/site1/${device}/data`;

    beforeEach(async () => {
      harness = await makeHarness();
      tenant = `t${randomUUID().slice(0, 8)}`;
      filter = `veep/${tenant}/+/+/data`;
    });

    afterEach(async () => {
      for (const s of running.splice(0)) await s.stop();
      await harness.source.stop();
      await harness.dispose();
    });

    it("delivers published messages in order with topic and payload unchanged", async () => {
      // Acknowledged on arrival: a broker holds back messages beyond its in-flight window (mosquitto: 20).
      const received = await startCollecting(harness.source, filter, true);
      const payloads = Array.from({ length: 30 }, (_, i) => JSON.stringify({ deviceId: "D1", n: i }));
      for (const p of payloads) await harness.publish(topic("D1"), p);
      await waitFor(() => received.messages.length >= 30, "30 messages");
      expect(received.messages.map(text)).toEqual(payloads);
      expect(received.messages.every((m) => m.topic === topic("D1"))).toBe(true);
      expect(received.messages.every((m) => m.receivedAt instanceof Date)).toBe(true);
    });

    it("delivers raw bytes unchanged, invalid UTF-8 included", async () => {
      const received = await startCollecting(harness.source, filter);
      const bytes = new Uint8Array([0xc3, 0x28, 0x00, 0xff]);
      await harness.publish(topic("D2"), bytes);
      await waitFor(() => received.messages.length >= 1, "1 message");
      expect(Array.from(received.messages[0]!.payload)).toEqual(Array.from(bytes));
      received.messages[0]!.ack();
    });

    it("delivers unacknowledged messages again to a fresh instance, and acknowledged ones not", async () => {
      const first = await startCollecting(harness.source, filter);
      for (let i = 0; i < 6; i++) await harness.publish(topic("D3"), JSON.stringify({ n: i }));
      await waitFor(() => first.messages.length >= 6, "6 messages");
      for (const m of first.messages.slice(0, 3)) m.ack();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await harness.source.stop();

      const next = await harness.reconnect();
      running.push(next);
      const second = await startCollecting(next, filter);
      await waitFor(() => second.messages.length >= 3, "3 redelivered messages");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(second.messages.map(text)).toEqual([3, 4, 5].map((n) => JSON.stringify({ n })));
      for (const m of second.messages) m.ack();
    });

    it("pauses and resumes delivery without losing messages", async () => {
      const received = await startCollecting(harness.source, filter, true);
      harness.source.pause();
      harness.source.pause();
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < 10; i++) await harness.publish(topic("D4"), JSON.stringify({ n: i }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const duringPause = received.messages.length;
      harness.source.resume();
      harness.source.resume();
      await waitFor(() => received.messages.length >= 10, "10 messages after resume");
      expect(duringPause).toBeLessThan(10);
      expect(received.messages.map(text)).toEqual(
        Array.from({ length: 10 }, (_, n) => JSON.stringify({ n })),
      );
      for (const m of received.messages) m.ack();
    });

    it("tolerates acknowledging twice and after stop", async () => {
      const received = await startCollecting(harness.source, filter);
      await harness.publish(topic("D5"), "{}");
      await waitFor(() => received.messages.length >= 1, "1 message");
      const message = received.messages[0]!;
      message.ack();
      message.ack();
      await harness.source.stop();
      expect(() => message.ack()).not.toThrow();
    });

    it("refuses a second start with a LifecycleError ALREADY_STARTED", async () => {
      await startCollecting(harness.source, filter);
      await expectCode(startCollecting(harness.source, filter), "ALREADY_STARTED");
    });

    it("delivers nothing after stop, and what was acknowledged after stop comes again", async () => {
      const first = await startCollecting(harness.source, filter);
      await harness.publish(topic("D6"), JSON.stringify({ n: 1 }));
      await waitFor(() => first.messages.length >= 1, "1 message");
      await harness.source.stop();
      first.messages[0]!.ack();
      await harness.publish(topic("D6"), JSON.stringify({ n: 2 }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(first.messages).toHaveLength(1);

      const next = await harness.reconnect();
      running.push(next);
      const second = await startCollecting(next, filter);
      await waitFor(() => second.messages.length >= 2, "2 messages after reconnect");
      expect(second.messages.map(text)).toEqual([1, 2].map((n) => JSON.stringify({ n })));
      for (const m of second.messages) m.ack();
    });

    it("stops idempotently", async () => {
      await startCollecting(harness.source, filter);
      await harness.source.stop();
      await expect(harness.source.stop()).resolves.toBeUndefined();
    });
  });
}
