import { randomBytes } from "node:crypto";
import { connectAsync, type MqttClient } from "mqtt";
import type { SourceHandlers, SourceMessage, SourceStatus } from "../../../src/sources/source.js";

/** A unique client id / topic segment for one test. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Handlers that record everything a source delivers. */
export interface Collector {
  readonly messages: SourceMessage[];
  readonly statuses: SourceStatus[];
  readonly handlers: SourceHandlers;
  /** Payloads as UTF-8 strings, in delivery order. */
  texts(): string[];
  /** Resolves once at least `count` messages arrived (rejects after `timeoutMs`). */
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once a status with `state` arrived after position `after` of the status list. */
  waitForStatus(state: SourceStatus["state"], after?: number, timeoutMs?: number): Promise<void>;
}

/** Resolves once `predicate()` holds, checking every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function until(
  predicate: () => boolean,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Creates a {@link Collector}. */
export function collector(): Collector {
  const messages: SourceMessage[] = [];
  const statuses: SourceStatus[] = [];
  return {
    messages,
    statuses,
    handlers: {
      message: (m) => messages.push(m),
      status: (s) => statuses.push(s),
    },
    texts: () => messages.map((m) => Buffer.from(m.payload).toString("utf8")),
    waitForMessages: (count, timeoutMs = 10_000) =>
      until(
        () => messages.length >= count,
        () => `${count} messages (got ${messages.length})`,
        timeoutMs,
      ),
    waitForStatus: (state, after = 0, timeoutMs = 10_000) =>
      until(
        () => statuses.slice(after).some((s) => s.state === state),
        () => `status ${state} (got ${statuses.map((s) => s.state).join(",")})`,
        timeoutMs,
      ),
  };
}

/**
 * What `seen` receives before a marker published now on `topic` arrives: proof that nothing else was
 * (re)delivered, without sleeping. MQTT keeps one publisher's messages in order per subscription.
 */
export async function receivedBefore(url: string, topic: string, seen: Collector): Promise<string[]> {
  const marker = `marker-${randomBytes(4).toString("hex")}`;
  const from = seen.messages.length;
  await publishAll(url, topic, [marker]);
  await until(() => seen.texts().includes(marker), `marker ${marker}`);
  for (const m of seen.messages) m.ack();
  const texts = seen.texts().slice(from);
  return texts.slice(0, texts.indexOf(marker));
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A QoS 1 publisher: `publish` resolves on the broker's PUBACK. */
export async function publisher(url: string, protocolVersion: 4 | 5 = 4): Promise<MqttClient> {
  return connectAsync(url, { clientId: uniqueId("pub"), protocolVersion, reconnectPeriod: 200 });
}

/** Publishes `payloads` in order at QoS 1 (each awaited) and closes the client. */
export async function publishAll(
  url: string,
  topic: string,
  payloads: string[],
  options: { qos?: 0 | 1; retain?: boolean } = {},
): Promise<void> {
  const client = await publisher(url);
  for (const payload of payloads) {
    await client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }
  await client.endAsync();
}
