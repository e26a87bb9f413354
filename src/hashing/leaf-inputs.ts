import { isHexOfLength } from "./hex.js";
import type { Hasher } from "./types.js";

/**
 * The leaf input of a message hash: its `hasher.digestLength` raw bytes.
 *
 * @throws TypeError when `messageHash` is not hex of exactly `hasher.digestLength` bytes.
 */
export function messageHashToLeafInput(messageHash: string, hasher: Hasher, position?: number): Uint8Array {
  if (!isHexOfLength(messageHash, hasher.digestLength)) {
    const where = position === undefined ? "" : ` at position ${position}`;
    throw new TypeError(
      `Message hash${where} must be ${hasher.digestLength * 2} hex characters (${hasher.algorithm}), got ${JSON.stringify(String(messageHash).slice(0, 80))}`,
    );
  }
  return Buffer.from(messageHash, "hex");
}

/** Leaf inputs of a batch's message hashes, in order (see {@link messageHashToLeafInput}). */
export function messageHashesToLeafInputs(messageHashes: readonly string[], hasher: Hasher): Uint8Array[] {
  return messageHashes.map((hash, position) => messageHashToLeafInput(hash, hasher, position));
}
