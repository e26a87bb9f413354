import { canonicalize } from "json-canonicalize";
import { describe, expect, it } from "vitest";
import { createDecoder } from "../../src/message/index.js";
import {
  bytes,
  expectReading,
  independentHash,
  RECEIVED_AT,
  SEED_PAYLOAD_TEXT,
  SEED_TOPIC,
} from "./fixtures.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function decodeText(text: string, topic = SEED_TOPIC) {
  return createDecoder().decode({ topic, payload: bytes(text), receivedAt: RECEIVED_AT });
}

describe("createDecoder: accepted payloads", () => {
  it("decodes the sample payload into a reading with the topic's ids and its firmware version", () => {
    const payload = bytes(SEED_PAYLOAD_TEXT);
    const reading = expectReading(
      createDecoder().decode({ topic: SEED_TOPIC, payload, receivedAt: RECEIVED_AT }),
    );
    expect(reading).toMatchObject({
      topic: SEED_TOPIC,
      tenantId: "factory1",
      siteId: "line2",
      deviceId: "SENSOR_001",
      firmwareVersion: "2.1.0",
      byteLength: payload.byteLength,
      payload: JSON.parse(SEED_PAYLOAD_TEXT),
    });
    expect(reading.receivedAt).toBe(RECEIVED_AT);
    expect(reading.messageId).toMatch(UUID_V7);
    expect(reading.rawPayload).toBe(payload);
  });

  it("carries the transport's redelivery flag into the reading, and only when it is set", () => {
    const decoder = createDecoder();
    const input = { topic: SEED_TOPIC, payload: bytes(SEED_PAYLOAD_TEXT), receivedAt: RECEIVED_AT };
    expect(expectReading(decoder.decode({ ...input, redelivered: true })).redelivered).toBe(true);
    expect("redelivered" in expectReading(decoder.decode({ ...input, redelivered: false }))).toBe(false);
    expect("redelivered" in expectReading(decoder.decode(input))).toBe(false);
  });

  it("hashes the RFC 8785 canonical JSON with SHA-256, as an outside verifier computes it", () => {
    const reading = expectReading(decodeText(SEED_PAYLOAD_TEXT));
    expect(reading.canonicalJson).toBe(canonicalize(JSON.parse(SEED_PAYLOAD_TEXT)));
    expect(reading.messageHash).toBe(independentHash(SEED_PAYLOAD_TEXT));
    expect(reading.messageHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives the same hash when keys are reordered and whitespace changes", () => {
    const reordered =
      '{"metadata":{"signal_strength":-45,"firmware_version":"2.1.0"},"temperature":32.5,' +
      '\n\t"current":71.36, "voltage":220.1,"kwh":15.7 ,"timestamp":1678886400,"deviceId":"SENSOR_001"}';
    const first = expectReading(decodeText(SEED_PAYLOAD_TEXT));
    const second = expectReading(decodeText(reordered));
    expect(second.messageHash).toBe(first.messageHash);
    expect(second.canonicalJson).toBe(first.canonicalJson);
    expect(second.messageId).not.toBe(first.messageId);
  });

  it("accepts a payload without deviceId and leaves firmwareVersion undefined without metadata", () => {
    const reading = expectReading(decodeText('{"kwh":1}'));
    expect(reading.deviceId).toBe("SENSOR_001");
    expect(reading.firmwareVersion).toBeUndefined();
  });

  it.each([
    ["a number", '{"metadata":{"firmware_version":210}}'],
    ["an object", '{"metadata":{"firmware_version":{"major":2}}}'],
    ["under a metadata array", '{"metadata":[{"firmware_version":"2.1.0"}]}'],
  ])("ignores a firmware_version that is %s", (_, text) => {
    expect(expectReading(decodeText(text)).firmwareVersion).toBeUndefined();
  });

  it("accepts a firmware version of exactly 50 characters", () => {
    const version = "v".repeat(50);
    const reading = expectReading(decodeText(JSON.stringify({ metadata: { firmware_version: version } })));
    expect(reading.firmwareVersion).toBe(version);
  });

  it.each([
    ["the largest safe integer", '{"v":9007199254740991}'],
    ["the smallest safe integer", '{"v":-9007199254740991}'],
    ["a huge float with an exponent", '{"v":1e300}'],
    ["the largest double written out", '{"v":1.7976931348623157e308}'],
    ["a number that underflows to zero", '{"v":1e-400}'],
    ["a long literal with a fraction", '{"v":12345678901234567890.5}'],
    ["a long literal with an exponent", '{"v":12345678901234567890e0}'],
    ["a long digit string inside a string", '{"id":"123456789012345678901234567890"}'],
    ["a long digit run inside a key", '{"12345678901234567890":1}'],
    ["an escaped backslash before u0000", '{"s":"\\\\u0000"}'],
    ["a surrogate pair written as escapes", '{"s":"\\ud83d\\ude00"}'],
    ["a raw astral character", '{"s":"😀"}'],
  ])("accepts %s", (_, text) => {
    const reading = expectReading(decodeText(text));
    expect(reading.messageHash).toBe(independentHash(text));
  });

  it("ignores one leading UTF-8 byte order mark, counting it in byteLength", () => {
    const payload = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(SEED_PAYLOAD_TEXT)]);
    const reading = expectReading(
      createDecoder().decode({ topic: SEED_TOPIC, payload, receivedAt: RECEIVED_AT }),
    );
    expect(reading.messageHash).toBe(independentHash(SEED_PAYLOAD_TEXT));
    expect(reading.byteLength).toBe(payload.byteLength);
  });

  it("accepts tenant, site and device of 100 characters, counting code points like PostgreSQL", () => {
    const device = "😀".repeat(100);
    const topic = `veep/${"t".repeat(100)}/s/${device}/data`;
    const reading = expectReading(decodeText(`{"deviceId":"${device}"}`, topic));
    expect(reading.deviceId).toBe(device);
    expect(reading.tenantId).toHaveLength(100);
  });

  it("passes the topic's ids to the validator and accepts on true", () => {
    const seen: unknown[] = [];
    const decoder = createDecoder({
      topic: "veep/{tenant}/{site}/{device}/{kind}",
      validate: (payload, context) => {
        seen.push(payload, context);
        return true;
      },
    });
    const topic = "veep/factory1/line2/SENSOR_001/energy";
    expectReading(decoder.decode({ topic, payload: bytes('{"kwh":1}'), receivedAt: RECEIVED_AT }));
    expect(seen).toEqual([
      { kwh: 1 },
      {
        topic,
        tenantId: "factory1",
        siteId: "line2",
        deviceId: "SENSOR_001",
        segments: { tenant: "factory1", site: "line2", device: "SENSOR_001", kind: "energy" },
      },
    ]);
  });

  it("uses injected canonicalJson, hashCanonicalJson and generateMessageId", () => {
    const decoder = createDecoder({
      canonicalJson: (value) => `canon:${JSON.stringify(value)}`,
      hashCanonicalJson: (canonical) => `hash(${canonical})`,
      generateMessageId: () => "00000000-0000-4000-8000-000000000001",
    });
    const reading = expectReading(
      decoder.decode({ topic: SEED_TOPIC, payload: bytes('{"a":1}'), receivedAt: RECEIVED_AT }),
    );
    expect(reading.canonicalJson).toBe('canon:{"a":1}');
    expect(reading.messageHash).toBe('hash(canon:{"a":1})');
    expect(reading.messageId).toBe("00000000-0000-4000-8000-000000000001");
  });
});
