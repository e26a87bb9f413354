const HEX_PATTERN = /^[0-9a-fA-F]*$/;

/**
 * Lowercase hexadecimal spelling of some bytes.
 *
 * @example
 * ```ts
 * bytesToHex(new Uint8Array([0, 171])); // "00ab"
 * ```
 */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Bytes spelled by a hexadecimal string (upper- or lowercase digits, even length).
 *
 * @throws TypeError when the string has an odd length or a character that is not a hex digit.
 * @example
 * ```ts
 * hexToBytes("00ab"); // Uint8Array [0, 171]
 * ```
 */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !HEX_PATTERN.test(hex)) {
    throw new TypeError(`Expected an even-length hexadecimal string, got ${describe(hex)}`);
  }
  return Buffer.from(hex, "hex");
}

/** `true` when `hex` spells exactly `byteLength` bytes in hexadecimal. */
export function isHexOfLength(hex: unknown, byteLength: number): hex is string {
  return typeof hex === "string" && hex.length === byteLength * 2 && HEX_PATTERN.test(hex);
}

function describe(value: unknown): string {
  if (typeof value !== "string") return typeof value;
  return value.length > 80 ? `"${value.slice(0, 80)}…" (${value.length} characters)` : `"${value}"`;
}
