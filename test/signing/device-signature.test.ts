import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/hashing/canonical-json.js";
import { messageHash } from "../../src/hashing/message-hash.js";
import { createDecoder } from "../../src/message/index.js";
import type { JsonObject } from "../../src/message/types.js";
import {
  base58Decode,
  base58Encode,
  deviceKeyPair,
  devicePublicKey,
  isDevicePublicKey,
  isDeviceSignature,
  signedBytes,
  signPayload,
  verifyPayloadSignature,
  verifySignedBytesAsync,
} from "../../src/signing/index.js";

const hashingDoc = readFileSync(new URL("../../docs/hashing.md", import.meta.url), "utf8");

interface Vector {
  readonly seed: string;
  readonly publicKeyHex: string;
  readonly publicKey: string;
  readonly payload: JsonObject;
  readonly signedBytes: string;
  readonly signature: string;
  readonly messageHash: string;
}

const VECTORS: readonly Vector[] = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKeyHex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    publicKey: "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z",
    payload: { deviceId: "SENSOR_001", timestamp: 1696156800, kwh: 15.7, voltage: 220.1, current: 71.36 },
    signedBytes:
      '{"current":71.36,"deviceId":"SENSOR_001","kwh":15.7,"timestamp":1696156800,"voltage":220.1}',
    signature: "5swaDB3w4hrJksA7fEta2xZjRP7VxXfjBr6gNh7kz3azyBbpsGzZUC6dh4r4VdNE8zUjUgVBwHjd6Su6MQPbDmV3",
    messageHash: "8faf9cd620264986c95be9e9be942bc7a3bd105d9da27b76f4c153a3555e3b81",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKeyHex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    publicKey: "586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5",
    payload: {
      deviceId: "SENSOR_002",
      kwh: 3.5,
      metadata: { signature: "not the reading's", site: "Zürich" },
    },
    signedBytes:
      '{"deviceId":"SENSOR_002","kwh":3.5,"metadata":{"signature":"not the reading\'s","site":"Zürich"}}',
    signature: "56ofsUtJgDkpweBRUBs9YETURjtuR1f8NqmP6ETWLMRFbkFSRFV5q5LwRBPXoyPFheGCLK4zRiMGmhG5d63GBQfu",
    messageHash: "fa83d1d7204bbe489eba5c5fe1b143da5ee5156c5c7c17f5aa131dfe3f0309fd",
  },
];

describe("device signatures: the test vectors of docs/hashing.md §6", () => {
  it.each(VECTORS.map((v, i) => [i + 1, v] as const))("vector %i", (_n, vector) => {
    const keys = deviceKeyPair(Buffer.from(vector.seed, "hex"));
    expect(keys.publicKey).toBe(vector.publicKey);
    expect(Buffer.from(base58Decode(keys.publicKey)).toString("hex")).toBe(vector.publicKeyHex);
    expect(signedBytes(vector.payload).toString("utf8")).toBe(vector.signedBytes);
    const signed = signPayload(vector.payload, keys.privateKey);
    expect(signed["signature"]).toBe(vector.signature);
    expect(messageHash(signed)).toBe(vector.messageHash);
    // The signature member itself is not signed: the signed bytes of the signed payload are the same.
    expect(signedBytes(signed).toString("utf8")).toBe(vector.signedBytes);
    expect(verifyPayloadSignature(signed, vector.signature, vector.publicKey)).toBe(true);
    for (const value of [vector.seed, vector.publicKey, vector.signature, vector.messageHash]) {
      expect(hashingDoc).toContain(value);
    }
  });

  it("prints the worked example's canonical raw_data and its size", () => {
    const [vector] = VECTORS;
    const raw = canonicalJson({ ...vector!.payload, signature: vector!.signature });
    expect(hashingDoc).toContain(raw);
    expect(Buffer.byteLength(raw)).toBe(194);
    expect(hashingDoc).toContain("(194 bytes)");
  });
});

describe("verifyPayloadSignature", () => {
  const [vector] = VECTORS;
  const { payload, signature, publicKey } = vector!;

  it("refuses a changed reading, another key, a changed signature and malformed input", () => {
    expect(verifyPayloadSignature({ ...payload, kwh: 999.99 }, signature, publicKey)).toBe(false);
    expect(verifyPayloadSignature(payload, signature, VECTORS[1]!.publicKey)).toBe(false);
    const bytes = base58Decode(signature);
    bytes[10] = bytes[10]! ^ 1;
    expect(verifyPayloadSignature(payload, base58Encode(bytes), publicKey)).toBe(false);
    expect(verifyPayloadSignature(payload, "not base58 0OIl", publicKey)).toBe(false);
    expect(verifyPayloadSignature(payload, base58Encode(new Uint8Array(63)), publicKey)).toBe(false);
    expect(verifyPayloadSignature(payload, signature, "tooShort")).toBe(false);
  });

  it("ignores key order and the payload's own signature member", () => {
    const reordered = JSON.parse(
      '{"signature":"whatever","voltage":220.1,"kwh":15.7,"current":71.36,"timestamp":1696156800,"deviceId":"SENSOR_001"}',
    ) as JsonObject;
    expect(verifyPayloadSignature(reordered, signature, publicKey)).toBe(true);
  });

  it("accepts a key object and agrees with keys node:crypto generates", () => {
    const { privateKey, publicKey: generated } = generateKeyPairSync("ed25519");
    const x = generated.export({ format: "jwk" }).x!;
    const base58Key = base58Encode(Buffer.from(x, "base64url"));
    const signed = signPayload({ deviceId: "D", n: 1 }, privateKey);
    expect(verifyPayloadSignature(signed, String(signed["signature"]), devicePublicKey(base58Key))).toBe(
      true,
    );
    expect(verifyPayloadSignature(signed, String(signed["signature"]), base58Key)).toBe(true);
  });

  it("recognises keys and signatures by their decoded length, and fits VARCHAR(88)", () => {
    expect(isDevicePublicKey(publicKey)).toBe(true);
    expect(isDevicePublicKey(signature)).toBe(false);
    expect(isDeviceSignature(signature)).toBe(true);
    expect(isDeviceSignature(publicKey)).toBe(false);
    expect(base58Encode(new Uint8Array(64).fill(255)).length).toBeLessThanOrEqual(88);
    expect(base58Encode(new Uint8Array(32).fill(255)).length).toBeLessThanOrEqual(44);
    expect(() => devicePublicKey("abc")).toThrow(TypeError);
    expect(() => deviceKeyPair(new Uint8Array(31))).toThrow(TypeError);
  });
});

describe("the decoder and the signature member", () => {
  const decoder = createDecoder();
  const decode = (payload: string) =>
    decoder.decode({
      topic: "veep/factory1/line2/SENSOR_001/data",
      payload: new TextEncoder().encode(payload),
      receivedAt: new Date(),
    });
  const [vector] = VECTORS;

  it("keeps a well-formed signature apart, and hashes the whole payload, signature included", () => {
    const result = decode(JSON.stringify({ ...vector!.payload, signature: vector!.signature }));
    if (!result.ok) throw new Error(result.rejection.detail);
    expect(result.reading.deviceSignature).toBe(vector!.signature);
    expect(result.reading.messageHash).toBe(vector!.messageHash);
    expect(result.reading.canonicalJson).toContain(`"signature":"${vector!.signature}"`);
  });

  it("leaves deviceSignature undefined when the member is absent, malformed, not a string or nested", () => {
    for (const payload of [
      '{"kwh":1}',
      '{"kwh":1,"signature":"0OIl"}',
      '{"kwh":1,"signature":42}',
      `{"kwh":1,"signature":"${vector!.publicKey}"}`,
      `{"kwh":1,"metadata":{"signature":"${vector!.signature}"}}`,
    ]) {
      const result = decode(payload);
      if (!result.ok) throw new Error(result.rejection.detail);
      expect(result.reading.deviceSignature, payload).toBeUndefined();
    }
  });
});

describe("verifySignedBytesAsync", () => {
  const [vector] = VECTORS;
  it("agrees with the synchronous check, off the event loop", async () => {
    const key = devicePublicKey(vector!.publicKey);
    const bytes = signedBytes(vector!.payload);
    await expect(verifySignedBytesAsync(bytes, vector!.signature, key)).resolves.toBe(true);
    await expect(verifySignedBytesAsync(Buffer.from(`${bytes} `), vector!.signature, key)).resolves.toBe(
      false,
    );
    await expect(
      verifySignedBytesAsync(bytes, vector!.signature, devicePublicKey(VECTORS[1]!.publicKey)),
    ).resolves.toBe(false);
    await expect(verifySignedBytesAsync(bytes, "0OIl", key)).resolves.toBe(false);
    await expect(verifySignedBytesAsync(bytes, base58Encode(new Uint8Array(64)), key)).resolves.toBe(false);
  });
});
