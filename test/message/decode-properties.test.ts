import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDecoder, type JsonValue, type RejectionReason } from "../../src/message/index.js";
import { firstInvalidUtf8Offset } from "../../src/message/utf8.js";
import { bytes, independentHash, RECEIVED_AT, SEED_TOPIC } from "./fixtures.js";

const decoder = createDecoder({ generateMessageId: () => "id" });
const decodeBytes = (payload: Uint8Array) =>
  decoder.decode({ topic: SEED_TOPIC, payload, receivedAt: RECEIVED_AT });

function isWellFormed(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}

/** What the decoder must say about a value, worked out from the value rather than its text. */
function expectedReason(value: JsonValue): RejectionReason | undefined {
  const found = new Set<RejectionReason>();
  const visit = (v: JsonValue): void => {
    if (typeof v === "string") {
      if (v.includes("\u0000")) found.add("nul_character");
      if (!isWellFormed(v)) found.add("lone_surrogate");
    } else if (typeof v === "number") {
      if (Number.isInteger(v) && !Number.isSafeInteger(v) && !/[.e]/.test(JSON.stringify(v))) {
        found.add("unsafe_integer");
      }
    } else if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (v !== null && typeof v === "object") {
      for (const [key, child] of Object.entries(v)) {
        visit(key);
        visit(child);
      }
    }
  };
  visit(value);
  return (["unsafe_integer", "nul_character", "lone_surrogate"] as const).find((reason) => found.has(reason));
}

const utf16 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 8 })
  .map((units) => String.fromCharCode(...units));
const key = fc
  .oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), utf16)
  .filter((k) => k !== "deviceId" && k !== "metadata");
const jsonObject = fc.oneof(
  fc.dictionary(key, fc.jsonValue({ stringUnit: "grapheme" })),
  fc.dictionary(key, fc.jsonValue({ stringUnit: "binary" })),
  fc.dictionary(key, fc.array(utf16, { maxLength: 3 })),
  fc.dictionary(key, fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.maxSafeInteger())),
);

describe("createDecoder properties", () => {
  it("decodes any JSON object to its independent hash, or refuses it for the reason its values give", () => {
    fc.assert(
      fc.property(jsonObject, fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        const result = decodeBytes(bytes(text));
        const reason = expectedReason(value as JsonValue);
        if (reason === undefined) {
          expect(result.ok ? result.reading.messageHash : result.rejection.detail).toBe(
            independentHash(text),
          );
        } else {
          expect(result.ok ? "accepted" : result.rejection.reason).toBe(reason);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("refuses exactly the integer literals beyond ±(2^53−1)", () => {
    const limit = BigInt(Number.MAX_SAFE_INTEGER);
    const big = fc.oneof(
      fc.bigInt(-(limit * 4n), limit * 4n),
      fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
    );
    fc.assert(
      fc.property(big, (n) => {
        const result = decodeBytes(bytes(`{"n":${n}}`));
        const unsafe = n > limit || n < -limit;
        expect(result.ok ? "accepted" : result.rejection.reason).toBe(unsafe ? "unsafe_integer" : "accepted");
      }),
    );
  });

  it("never throws on random bytes and returns them unchanged when it refuses", () => {
    const jsonish = fc.jsonValue().map((v) => bytes(JSON.stringify(v) ?? ""));
    const mutated = fc
      .tuple(jsonish, fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([b, at, byte]) => (b.length === 0 ? b : b.map((x, i) => (i === at % b.length ? byte : x))));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), jsonish, mutated), (payload) => {
        const result = decodeBytes(payload);
        if (!result.ok) expect(result.rejection.payload).toBe(payload);
        else expect(result.reading.byteLength).toBe(payload.byteLength);
      }),
      { numRuns: 2000 },
    );
  });

  it("locates invalid UTF-8 exactly where a strict TextDecoder stops accepting", () => {
    const strict = new TextDecoder("utf-8", { fatal: true });
    const accepts = (b: Uint8Array) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (payload) => {
        const offset = firstInvalidUtf8Offset(payload);
        expect(offset === -1).toBe(accepts(payload));
        if (offset >= 0) expect(accepts(payload.subarray(0, offset))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
