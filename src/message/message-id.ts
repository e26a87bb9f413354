import { randomUUID } from "node:crypto";

/**
 * A message id: a UUID version 7 (RFC 9562) whose first 48 bits are `receivedAt` in Unix
 * milliseconds and the rest random. Time-ordered ids keep the primary-key index of `messages`
 * appended at its end, and let a lookup by id go straight to the partition of its time.
 */
export function messageIdAt(receivedAt: Date): string {
  const ms = receivedAt.getTime();
  const random = randomUUID();
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 2 ** 48) return random;
  const time = ms.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}

/** The time a version 7 UUID carries (Unix milliseconds), or `undefined` for another version. */
export function messageIdTime(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
