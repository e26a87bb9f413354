import { connectAsync } from "mqtt";
import { type MqttSource, type MqttSourceOptions, mqttSource } from "../../../src/sources/mqtt/index.js";
import { machineBroker, startAedes, type TestBroker } from "./brokers.js";
import { type Collector, collector } from "./collect.js";

/** A broker the generic MQTT tests run against. */
export interface BrokerTarget {
  readonly name: string;
  readonly mqtt5: boolean;
  start(): Promise<TestBroker>;
}

/**
 * Always an in-process aedes of the test's own (MQTT 3.1.1); the machine's broker too (MQTT 3.1.1 and 5)
 * when `MQTT_URL` is set, else a notice that its cases are skipped.
 */
export function brokerTargets(): BrokerTarget[] {
  const targets: BrokerTarget[] = [{ name: "aedes", mqtt5: false, start: () => startAedes() }];
  const machine = machineBroker("the MQTT_URL and MQTT 5 cases of the shared MQTT tests");
  if (machine !== undefined) targets.push({ name: "MQTT_URL", mqtt5: true, start: async () => machine });
  return targets;
}

/** A started source and what it delivered. */
export interface Running {
  readonly source: MqttSource;
  readonly seen: Collector;
}

/** Starts an MQTT source on `filter` with fast reconnects. */
export async function startSource(
  url: string,
  filter: string,
  options: Omit<MqttSourceOptions, "url"> = {},
): Promise<Running> {
  const source = mqttSource({ url, reconnect: { minDelayMs: 100, maxDelayMs: 1000 }, ...options });
  const seen = collector();
  await source.start({ topicFilter: filter, handlers: seen.handlers });
  return { source, seen };
}

/** Ends a persistent session on the broker (connect with a clean session), so tests leave nothing behind. */
export async function forgetSession(
  url: string,
  clientId: string,
  protocolVersion: 4 | 5 = 4,
): Promise<void> {
  const client = await connectAsync(url, { clientId, clean: true, protocolVersion, reconnectPeriod: 0 });
  await client.endAsync();
}
