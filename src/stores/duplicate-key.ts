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

/** Lowercase hex SHA-256 of a refused payload's raw bytes (what identifies it among dead letters). */
export function payloadHash(payload: Uint8Array): string {
  return createHash("sha256").update(payload).digest("hex");
}

/**
 * The same rule for refused payloads: a dead letter is a copy of another when both have the same raw
 * bytes and come from the same device (from the same topic, when the topic did not match the pattern).
 *
 * @param rejection - the refused payload
 * @param hash - its {@link payloadHash}, when already computed
 */
export function deadLetterKey(rejection: Rejection, hash: string = payloadHash(rejection.payload)): string {
  const origin =
    rejection.deviceId === undefined ? `topic:${rejection.topic}` : `device:${rejection.deviceId}`;
  return `dead:${hash}:${origin}`;
}
