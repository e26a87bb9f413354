import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { canonicalJson } from "../hashing/canonical-json.js";
import type { JsonObject } from "../message/types.js";
import { base58Decode, base58Encode, isBase58OfLength } from "./base58.js";

/** The payload member that carries a reading's signature. */
export const SIGNATURE_MEMBER = "signature";

/** Bytes of an Ed25519 public key (base58: 32 to 44 characters). */
export const PUBLIC_KEY_BYTES = 32;

/** Bytes of an Ed25519 signature (base58: 64 to 88 characters). */
export const SIGNATURE_BYTES = 64;

/** DER prefix of a PKCS #8 Ed25519 private key (RFC 8410); the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * `true` when `text` is an Ed25519 public key as `devices.public_key` holds it: base58 of 32 bytes.
 *
 * @param text - any value
 * @returns whether it is one
 */
export function isDevicePublicKey(text: unknown): text is string {
  return isBase58OfLength(text, PUBLIC_KEY_BYTES);
}

/**
 * `true` when `text` is a signature as a reading carries it: base58 of 64 bytes.
 *
 * @param text - any value
 * @returns whether it is one
 */
export function isDeviceSignature(text: unknown): text is string {
  return isBase58OfLength(text, SIGNATURE_BYTES);
}

/**
 * The `node:crypto` key object of a device's public key.
 *
 * @param publicKey - base58 of the 32-byte Ed25519 public key
 * @returns the key object (verify with it as often as needed)
 * @throws TypeError when `publicKey` is not base58 of 32 bytes
 */
export function devicePublicKey(publicKey: string): KeyObject {
  if (!isDevicePublicKey(publicKey)) {
    throw new TypeError("Expected an Ed25519 public key: base58 of 32 bytes");
  }
  const x = Buffer.from(base58Decode(publicKey)).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

/** A device's Ed25519 key pair, as a simulator or a test signs with it. */
export interface DeviceKeyPair {
  /** Base58 of the 32-byte public key: what `devices.public_key` holds. */
  readonly publicKey: string;
  /** The private key (`node:crypto`). */
  readonly privateKey: KeyObject;
}

/**
 * The key pair of a 32-byte Ed25519 seed (the private key of RFC 8032).
 *
 * @param seed - 32 bytes; keep them secret
 * @returns the key pair
 * @throws TypeError when `seed` is not 32 bytes
 * @example
 * ```ts
 * const { publicKey } = deviceKeyPair(randomBytes(32));
 * // register it: veep-bridge devices set-key SENSOR_001 <publicKey>
 * ```
 */
export function deviceKeyPair(seed: Uint8Array): DeviceKeyPair {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== 32) {
    throw new TypeError("Expected a 32-byte Ed25519 seed");
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return { publicKey: base58Encode(Buffer.from(jwk.x ?? "", "base64url")), privateKey };
}

/**
 * The bytes a device signs: the UTF-8 of the RFC 8785 canonical JSON of the payload without its
 * top-level `signature` member (every other member, nested ones named `signature` included).
 *
 * @param payload - the payload, with or without its signature
 * @returns the bytes to sign or verify
 * @throws TypeError when the payload cannot be canonicalised (see `canonicalJson`)
 */
export function signedBytes(payload: JsonObject): Buffer {
  let unsigned = payload;
  if (Object.hasOwn(payload, SIGNATURE_MEMBER)) {
    const { [SIGNATURE_MEMBER]: _signature, ...rest } = payload;
    unsigned = rest;
  }
  return Buffer.from(canonicalJson(unsigned), "utf8");
}

/**
 * Signs a payload as a device does: the payload with a `signature` member, base58 of the Ed25519
 * signature of {@link signedBytes}. A `signature` member already there is replaced.
 *
 * @param payload - the reading
 * @param privateKey - the device's Ed25519 private key
 * @returns a new payload with its signature
 * @example
 * ```ts
 * const signed = signPayload({ deviceId: "SENSOR_001", kwh: 15.7 }, keys.privateKey);
 * publish(topic, JSON.stringify(signed));
 * ```
 */
export function signPayload(payload: JsonObject, privateKey: KeyObject): JsonObject {
  const signature = base58Encode(sign(null, signedBytes(payload), privateKey));
  return { ...payload, [SIGNATURE_MEMBER]: signature };
}

/**
 * Checks a signature over {@link signedBytes} of a payload. Never throws for bad input: a
 * malformed signature or key is simply not valid.
 *
 * @param payload - the payload (its own `signature` member is ignored; pass the signature apart)
 * @param signature - base58 of the 64-byte signature
 * @param publicKey - the device's key: base58 of 32 bytes, or a key object from {@link devicePublicKey}
 * @returns `true` when the signature is the device's over these bytes
 */
export function verifyPayloadSignature(
  payload: JsonObject,
  signature: string,
  publicKey: string | KeyObject,
): boolean {
  if (!isDeviceSignature(signature)) return false;
  let key: KeyObject;
  let bytes: Buffer;
  try {
    key = typeof publicKey === "string" ? devicePublicKey(publicKey) : publicKey;
    bytes = signedBytes(payload);
  } catch {
    return false;
  }
  return verifySignedBytes(bytes, signature, key);
}

/**
 * Checks a base58 signature over given bytes with a key object. Never throws for bad input.
 *
 * @param bytes - the signed bytes ({@link signedBytes})
 * @param signature - base58 of 64 bytes
 * @param key - the device's public key object
 * @returns `true` when valid
 */
export function verifySignedBytes(bytes: Uint8Array, signature: string, key: KeyObject): boolean {
  let raw: Uint8Array;
  try {
    raw = base58Decode(signature);
  } catch {
    return false;
  }
  if (raw.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, bytes, key, raw);
  } catch {
    return false;
  }
}

/**
 * {@link verifySignedBytes} on libuv's thread pool (`crypto.verify` with a callback), so that
 * many checks run on other cores while the event loop goes on. Never rejects for bad input.
 *
 * @param bytes - the signed bytes ({@link signedBytes})
 * @param signature - base58 of 64 bytes
 * @param key - the device's public key object
 * @returns `true` when valid
 */
export function verifySignedBytesAsync(
  bytes: Uint8Array,
  signature: string,
  key: KeyObject,
): Promise<boolean> {
  let raw: Uint8Array;
  try {
    raw = base58Decode(signature);
  } catch {
    return Promise.resolve(false);
  }
  if (raw.length !== SIGNATURE_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, bytes, key, raw, (error, valid) => resolve(error === null && valid));
    } catch {
      resolve(false);
    }
  });
}
