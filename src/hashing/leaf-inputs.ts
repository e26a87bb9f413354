import type { Hasher } from "./types.js";

/**
 * The leaf input of a message hash: its `hasher.digestLength` raw bytes.
 *
 * @throws TypeError when `messageHash` is not hex of exactly `hasher.digestLength` bytes.
 */
export function messageHashToLeafInput(messageHash: string, hasher: Hasher, position?: number): Uint8Array {
  // Buffer.from stops at the first pair that is not hex, so a short result means a bad character.
  const bytes =
    typeof messageHash === "string" && messageHash.length === hasher.digestLength * 2
      ? Buffer.from(messageHash, "hex")
      : undefined;
  if (bytes === undefined || bytes.byteLength !== hasher.digestLength) {
    const where = position === undefined ? "" : ` at position ${position}`;
    throw new TypeError(
      `Message hash${where} must be ${hasher.digestLength * 2} hex characters (${hasher.algorithm}), got ${JSON.stringify(String(messageHash).slice(0, 80))}`,
    );
  }
  return bytes;
}

/** Leaf inputs of a batch's message hashes, in order (see {@link messageHashToLeafInput}). */
export function messageHashesToLeafInputs(messageHashes: readonly string[], hasher: Hasher): Uint8Array[] {
  return messageHashes.map((hash, position) => messageHashToLeafInput(hash, hasher, position));
}
