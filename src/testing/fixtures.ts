import { randomUUID } from "node:crypto";
import { createDecoder } from "../message/decode.js";
import type { JsonObject, Reading, Rejection } from "../message/types.js";

/** Options of {@link makeReadings}. */
export interface MakeReadingsOptions {
  /** Tenant segment. @defaultValue "factory1" */
  readonly tenantId?: string;
  /** Site segment. @defaultValue "line2" */
  readonly siteId?: string;
  /** Devices to cycle through. @defaultValue ["SENSOR_001", "SENSOR_002", "SENSOR_003"] */
  readonly devices?: readonly string[];
  /** Start of the `receivedAt` sequence (one millisecond apart). @defaultValue now */
  readonly start?: Date;
  /** Salt mixed into payloads so separate calls never produce the same hashes. @defaultValue a random UUID */
  readonly salt?: string;
}

const decoder = createDecoder();

/**
 * An energy-meter reading payload (deviceId, timestamp, kwh, voltage, current, temperature,
 * metadata) for `deviceId`, number `n`.
 */
export function seedPayload(deviceId: string, n: number, salt = ""): JsonObject {
  return {
    deviceId,
    timestamp: 1_696_156_800 + n,
    kwh: Math.round((15 + (n % 100) / 7) * 100) / 100,
    voltage: 220.1,
    current: 71.36,
    temperature: 32.5,
    metadata: { firmware_version: "2.1.0", signal_strength: -45, ...(salt ? { nonce: `${salt}-${n}` } : {}) },
  };
}

/** Decodes one payload on `topic` into a {@link Reading}; throws if it would be rejected. */
export function makeReading(topic: string, payload: JsonObject, receivedAt: Date = new Date()): Reading {
  const result = decoder.decode({
    topic,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
    receivedAt,
  });
  if (!result.ok)
    throw new Error(`fixture payload rejected: ${result.rejection.reason} ${result.rejection.detail}`);
  return result.reading;
}

/** `count` distinct, valid, sample readings on the default topic pattern. */
export function makeReadings(count: number, options: MakeReadingsOptions = {}): Reading[] {
  const tenant = options.tenantId ?? "factory1";
  const site = options.siteId ?? "line2";
  const devices = options.devices ?? ["SENSOR_001", "SENSOR_002", "SENSOR_003"];
  const salt = options.salt ?? randomUUID();
  const start = options.start?.getTime() ?? Date.now();
  return Array.from({ length: count }, (_, i) => {
    const device = devices[i % devices.length]!;
    return makeReading(
      `veep/${tenant}/${site}/${device}/data`,
      seedPayload(device, i, salt),
      new Date(start + i),
    );
  });
}

/** The same readings under new message ids, as a broker redelivery decodes them. */
export function redeliver(readings: readonly Reading[]): Reading[] {
  return readings.map((r) => ({ ...r, messageId: randomUUID() }));
}

/** A rejection as the decoder would produce for a non-object payload. */
export function makeRejection(topic = "veep/factory1/line2/SENSOR_001/data", payload = "[1,2,3]"): Rejection {
  const result = decoder.decode({
    topic,
    payload: new TextEncoder().encode(payload),
    receivedAt: new Date(),
  });
  if (result.ok) throw new Error("fixture payload was accepted; pass one that is rejected");
  return result.rejection;
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
