import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";
import { expect } from "vitest";
import type { DecodeResult, Reading, Rejection, RejectionReason } from "../../src/message/index.js";

/** The documented sample topic and its sample JSON payload, byte for byte. */
export const SEED_TOPIC = "veep/factory1/line2/SENSOR_001/data";
export const SEED_PAYLOAD_TEXT = `{
  "deviceId": "SENSOR_001",
  "timestamp": 1678886400,
  "kwh": 15.7,
  "voltage": 220.1,
  "current": 71.36,
  "temperature": 32.5,
  "metadata": {
    "firmware_version": "2.1.0",
    "signal_strength": -45
  }
}`;

export const RECEIVED_AT = new Date("2025-10-01T10:00:00.000Z");

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** sha256 of the RFC 8785 form, computed without the library under test. */
export function independentHash(text: string): string {
  return createHash("sha256")
    .update(canonicalize(JSON.parse(text)), "utf8")
    .digest("hex");
}

export function expectReading(result: DecodeResult): Reading {
  if (!result.ok) throw new Error(`rejected: ${result.rejection.reason}: ${result.rejection.detail}`);
  return result.reading;
}

export function expectRejection(result: DecodeResult, reason: RejectionReason): Rejection {
  if (result.ok) throw new Error(`accepted, expected ${reason}`);
  expect(result.rejection.reason, result.rejection.detail).toBe(reason);
  return result.rejection;
}
