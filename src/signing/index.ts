export { BASE58_ALPHABET, base58Decode, base58Encode, isBase58OfLength } from "./base58.js";
export {
  type DeviceKeyPair,
  deviceKeyPair,
  devicePublicKey,
  isDevicePublicKey,
  isDeviceSignature,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  SIGNATURE_MEMBER,
  signedBytes,
  signPayload,
  verifyPayloadSignature,
  verifySignedBytes,
  verifySignedBytesAsync,
} from "./device-signature.js";
