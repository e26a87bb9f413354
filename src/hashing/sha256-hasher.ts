import { createNodeHasher } from "./node-hasher.js";
import type { Hasher } from "./types.js";

/**
 * The default {@link Hasher}: SHA-256 as RFC 9162 §2.1 uses it (`algorithm` `"sha256"`,
 * `digestLength` 32, leaf = SHA-256(0x00 ‖ input), node = SHA-256(0x01 ‖ left ‖ right)).
 *
 * @example
 * ```ts
 * bytesToHex(sha256Hasher.digest("")); // "e3b0c442…b855"
 * ```
 */
export const sha256Hasher: Hasher = createNodeHasher("sha256");

export { bytesToHex, hexToBytes } from "./hex.js";
