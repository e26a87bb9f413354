/**
 * `veep-bridge/signing`: what a device (or its simulator) needs to sign readings the bridge checks:
 * an Ed25519 key pair with its base58 public key to register (`veep-bridge devices set-key`), the
 * bytes that are signed and the payload member the signature travels in (see docs/hashing.md).
 *
 * @packageDocumentation
 */

export {
  base58Decode,
  base58Encode,
  type DeviceKeyPair,
  deviceKeyPair,
  devicePublicKey,
  isDevicePublicKey,
  isDeviceSignature,
  SIGNATURE_MEMBER,
  signedBytes,
  signPayload,
  verifyPayloadSignature,
} from "./signing/index.js";
