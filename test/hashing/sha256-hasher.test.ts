import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  bytesToHex,
  canonicalJson,
  hashCanonicalJson,
  hexToBytes,
  messageHash,
  sha256Hasher,
} from "../../src/hashing/index.js";

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

describe("sha256Hasher", () => {
  it("names its algorithm and digest length", () => {
    expect(sha256Hasher.algorithm).toBe("sha256");
    expect(sha256Hasher.digestLength).toBe(32);
  });

  it("hashes the empty input to e3b0c442…b855 and strings as UTF-8", () => {
    expect(bytesToHex(sha256Hasher.digest(new Uint8Array(0)))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(bytesToHex(sha256Hasher.digest("€"))).toBe(sha256(Buffer.from([0xe2, 0x82, 0xac])));
  });

  it("prefixes leaves with 0x00 and interior nodes with 0x01 (RFC 9162 §2.1.1)", () => {
    const left = new Uint8Array([1, 2]);
    const right = new Uint8Array([3]);
    expect(bytesToHex(sha256Hasher.hashLeaf(left))).toBe(sha256(new Uint8Array([0, 1, 2])));
    expect(bytesToHex(sha256Hasher.hashChildren(left, right))).toBe(sha256(new Uint8Array([1, 1, 2, 3])));
  });
});

describe("bytesToHex / hexToBytes", () => {
  it("round-trips bytes through lowercase hex, reading a view's own bytes only", () => {
    const backing = new Uint8Array([0xff, 0x00, 0xab, 0x10, 0xff]);
    expect(bytesToHex(backing.subarray(1, 4))).toBe("00ab10");
    expect([...hexToBytes("00AB10")]).toEqual([0x00, 0xab, 0x10]);
    expect(hexToBytes("").byteLength).toBe(0);
  });

  it.each(["abc", "0g", "zz", " 00", "0x00", "00\n"])("refuses %j with a TypeError", (hex) => {
    expect(() => hexToBytes(hex)).toThrow(TypeError);
  });
});

describe("messageHash", () => {
  const payload = {
    deviceId: "SENSOR_001",
    timestamp: 1678886400,
    kwh: 15.7,
    metadata: { signal_strength: -45, firmware_version: "2.1.0" },
  };

  it("is the lowercase hex SHA-256 of the UTF-8 canonical JSON", () => {
    const canonical =
      '{"deviceId":"SENSOR_001","kwh":15.7,"metadata":{"firmware_version":"2.1.0","signal_strength":-45},"timestamp":1678886400}';
    expect(canonicalJson(payload)).toBe(canonical);
    expect(messageHash(payload)).toBe(sha256(Buffer.from(canonical, "utf8")));
    expect(hashCanonicalJson(canonical)).toBe(messageHash(payload));
  });

  it("does not depend on key order or whitespace of the received JSON", () => {
    const received =
      '{ "metadata": {"firmware_version":"2.1.0", "signal_strength":-45},\n "kwh":15.70,' +
      ' "timestamp":1678886400, "deviceId":"SENSOR_001" }';
    expect(messageHash(JSON.parse(received))).toBe(messageHash(payload));
  });

  it("changes when any value changes", () => {
    expect(messageHash({ ...payload, kwh: 15.71 })).not.toBe(messageHash(payload));
  });

  it("hashes non-ASCII text as UTF-8", () => {
    expect(messageHash({ site: "Zürich €" })).toBe(sha256(Buffer.from('{"site":"Zürich €"}', "utf8")));
  });
});
