import { connectMqttPublisher } from "../sources/mqtt/index.js";

/** A simulated device: where it publishes. */
export interface SimulatedDevice {
  /** Tenant segment. */
  readonly tenant: string;
  /** Site segment. */
  readonly site: string;
  /** Device id. */
  readonly deviceId: string;
}

/** The demo's devices, on the default topic pattern (`veep/factory1/line2/SENSOR_001/data`, …). */
export const DEMO_DEVICES: readonly SimulatedDevice[] = [
  ...["SENSOR_001", "SENSOR_002", "SENSOR_003", "SENSOR_004", "SENSOR_005"].map((deviceId) => ({
    tenant: "factory1",
    site: "line2",
    deviceId,
  })),
  ...["SENSOR_006", "SENSOR_007", "SENSOR_008"].map((deviceId) => ({
    tenant: "factory1",
    site: "line1",
    deviceId,
  })),
];

/** Counters of a simulation run. */
export interface SimulationResult {
  /** Valid readings published. */
  readonly readings: number;
  /** Deliberately bad payloads published. */
  readonly bad: number;
  /** Readings published twice on purpose (the copy must be recognised as a duplicate). */
  readonly repeated: number;
}

/** Options of {@link simulateDevices}. */
export interface SimulationOptions {
  /** Broker URL. */
  readonly url: string;
  /** How long to publish. */
  readonly durationMs: number;
  /** Pause between two rounds over all devices. @defaultValue 40 */
  readonly intervalMs?: number;
  /** Publish a bad payload every this many readings. @defaultValue 150 */
  readonly badEvery?: number;
  /** Stops publishing early. */
  readonly signal?: AbortSignal;
}

const topicOf = (d: SimulatedDevice): string => `veep/${d.tenant}/${d.site}/${d.deviceId}/data`;
const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * An energy-meter reading (deviceId, timestamp, kwh, voltage, current, temperature, metadata) of
 * device `d`, number `n`.
 */
export function demoReading(d: SimulatedDevice, n: number, kwh: number): Record<string, unknown> {
  return {
    deviceId: d.deviceId,
    timestamp: Math.floor(Date.now() / 1000),
    kwh: round(kwh, 3),
    voltage: round(219 + Math.random() * 2, 1),
    current: round(70 + Math.random() * 3, 2),
    temperature: round(31 + Math.random() * 3, 1),
    metadata: { firmware_version: "2.1.0", signal_strength: -40 - (n % 15), seq: n },
  };
}

/** The bad payloads mixed in, each refused by the bridge for a different reason. */
export function badPayload(d: SimulatedDevice, k: number): string {
  const samples = [
    "[1,2,3]",
    `{"deviceId":"${d.deviceId}","kwh":`,
    `{"deviceId":"SENSOR_999","kwh":1.5}`,
    `{"deviceId":"${d.deviceId}","counter":9007199254740993}`,
    `"just a string"`,
  ];
  return samples[k % samples.length]!;
}

/**
 * Publishes sample readings at QoS 1 from every device for `durationMs`, with a bad payload
 * every `badEvery` readings and one reading published twice, then disconnects.
 */
export async function simulateDevices(options: SimulationOptions): Promise<SimulationResult> {
  const client = await connectMqttPublisher(options.url, { clientId: `veep-demo-devices-${process.pid}` });
  const counters = { readings: 0, bad: 0, repeated: 0 };
  const kwh = new Map(DEMO_DEVICES.map((d) => [d.deviceId, 1000 + Math.random() * 500]));
  const deadline = Date.now() + options.durationMs;
  const badEvery = options.badEvery ?? 150;
  try {
    let n = 0;
    while (Date.now() < deadline && !options.signal?.aborted) {
      await Promise.all(
        DEMO_DEVICES.map(async (d) => {
          n += 1;
          const energy = (kwh.get(d.deviceId) ?? 0) + Math.random() * 0.05;
          kwh.set(d.deviceId, energy);
          const payload = JSON.stringify(demoReading(d, n, energy));
          await client.publish(topicOf(d), payload);
          counters.readings += 1;
          if (counters.readings === 100) {
            await client.publish(topicOf(d), payload);
            counters.repeated += 1;
          }
          if (counters.readings % badEvery === 0) {
            await client.publish(topicOf(d), badPayload(d, counters.bad));
            counters.bad += 1;
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 40));
    }
  } finally {
    await client.close();
  }
  return counters;
}
