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
