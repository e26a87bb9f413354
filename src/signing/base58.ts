/** The Bitcoin base58 alphabet (no `0`, `O`, `I`, `l`), as Solana and most Ed25519 tooling use it. */
export const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

const DIGIT_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE58_ALPHABET.length; i++) DIGIT_OF[BASE58_ALPHABET.charCodeAt(i)] = i;

/**
 * Base58 spelling of some bytes (Bitcoin alphabet): each leading zero byte is a leading `1`, the
 * rest is the big-endian number in base 58.
 *
 * @param bytes - the bytes
 * @returns the base58 text (`""` for no bytes)
 * @example
 * ```ts
 * base58Encode(new Uint8Array([0, 0, 1])); // "112"
 * ```
 */
export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  // Base-58 digits, least significant first; log(256)/log(58) < 1.37.
  const digits = new Uint8Array(Math.ceil((bytes.length - zeros) * 1.37) + 1);
  let length = 0;
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i]!;
    for (let j = 0; j < length; j++) {
      carry += digits[j]! * 256;
      digits[j] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits[length++] = carry % 58;
      carry = Math.floor(carry / 58);
    }
  }
  let text = "1".repeat(zeros);
  for (let j = length - 1; j >= 0; j--) text += BASE58_ALPHABET[digits[j]!];
  return text;
}

/**
 * Bytes spelled by a base58 text (Bitcoin alphabet).
 *
 * @param text - base58 text
 * @returns the bytes
 * @throws TypeError when `text` is not a string or has a character outside the alphabet
 * @example
 * ```ts
 * base58Decode("112"); // Uint8Array [0, 0, 1]
 * ```
 */
export function base58Decode(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError(`Expected a base58 string, got ${typeof text}`);
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  // Bytes, least significant first; log(58)/log(256) < 0.733.
  const bytes = new Uint8Array(Math.ceil((text.length - zeros) * 0.733) + 1);
  let length = 0;
  for (let i = zeros; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const digit = code < 128 ? DIGIT_OF[code]! : -1;
    if (digit < 0) {
      throw new TypeError(`Expected a base58 string, found ${JSON.stringify(text[i])} at index ${i}`);
    }
    let carry = digit;
    for (let j = 0; j < length; j++) {
      carry += bytes[j]! * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes[length++] = carry & 0xff;
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + length);
  for (let j = 0; j < length; j++) out[zeros + j] = bytes[length - 1 - j]!;
  return out;
}

/**
 * `true` when `text` is base58 of exactly `byteLength` bytes.
 *
 * @param text - any value
 * @param byteLength - the expected number of bytes
 * @returns whether it decodes to that many bytes
 */
export function isBase58OfLength(text: unknown, byteLength: number): text is string {
  if (typeof text !== "string" || text.length === 0 || text.length > Math.ceil(byteLength * 1.37) + 1) {
    return false;
  }
  try {
    return base58Decode(text).length === byteLength;
  } catch {
    return false;
  }
}
