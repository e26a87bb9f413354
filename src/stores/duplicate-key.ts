import { createHash } from "node:crypto";
import type { Rejection } from "../message/types.js";

/**
 * The de-duplication rule as one string: a message is a duplicate of another when both come from the
 * same device and have the same message hash. Stores and the bridge key their look-ups by it.
 *
 * @param messageHash - hex message hash
 * @param deviceId - the topic's device
 * @returns a key equal for exactly the messages that are duplicates of each other
 */
export function duplicateKey(messageHash: string, deviceId: string): string {
  return `${messageHash}:${deviceId}`;
}

const payloadHashes = new WeakMap<Uint8Array, string>();

/**
 * Lowercase hex SHA-256 of a refused payload's raw bytes (what identifies it among dead letters).
 * Computed once per payload: the bridge keys the rejection by it, and the store again when it records it.
 */
export function payloadHash(payload: Uint8Array): string {
  let hash = payloadHashes.get(payload);
  if (hash === undefined) {
    hash = createHash("sha256").update(payload).digest("hex");
    payloadHashes.set(payload, hash);
  }
  return hash;
}

/**
 * The same rule for refused payloads: a dead letter is a copy of another when both have the same raw
 * bytes and come from the same device (from the same topic, when the topic did not match the pattern).
 *
 * @param rejection - the refused payload
 */
export function deadLetterKey(rejection: Rejection): string {
  const origin =
    rejection.deviceId === undefined ? `topic:${rejection.topic}` : `device:${rejection.deviceId}`;
  return `dead:${payloadHash(rejection.payload)}:${origin}`;
}
