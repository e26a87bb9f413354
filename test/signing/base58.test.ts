import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base58Decode, base58Encode, isBase58OfLength } from "../../src/signing/index.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("base58", () => {
  // Vectors of the base58 draft (draft-msporny-base58-03 §5) and of Bitcoin Core's base58_encode_decode.json.
  const vectors: Array<[string, string]> = [
    ["", ""],
    ["61", "2g"],
    ["626262", "a3gV"],
    ["636363", "aPEr"],
    ["00", "1"],
    ["0000287fb4cd", "11233QC4"],
    ["000000", "111"],
    ["572e4794", "3EFU7m"],
    ["ecac89cad93923c02321", "EJDM8drfXA6uyA"],
    ["10c8511e", "Rt5zm"],
    ["00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"],
  ];

  it.each(vectors)("encodes %s as %s and decodes it back", (bytesHex, text) => {
    expect(base58Encode(Buffer.from(bytesHex, "hex"))).toBe(text);
    expect(hex(base58Decode(text))).toBe(bytesHex);
  });

  it("encodes text examples of the base58 draft", () => {
    expect(base58Encode(utf8("Hello World!"))).toBe("2NEpo7TZRRrLZSi2U");
    expect(base58Encode(utf8("The quick brown fox jumps over the lazy dog."))).toBe(
      "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
    );
  });

  it("round-trips any bytes, leading zeros included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(hex(base58Decode(base58Encode(bytes)))).toBe(hex(bytes));
      }),
      { seed: 58, numRuns: 500 },
    );
  });

  it("refuses characters outside the alphabet, naming the first", () => {
    for (const bad of ["0", "O", "I", "l", "abc+", " 2g", "é"]) {
      expect(() => base58Decode(bad)).toThrow(TypeError);
    }
    expect(() => base58Decode("2g0")).toThrow(/"0" at index 2/);
  });

  it("checks the decoded length", () => {
    const key = base58Encode(new Uint8Array(32).fill(7));
    expect(isBase58OfLength(key, 32)).toBe(true);
    expect(isBase58OfLength(key, 64)).toBe(false);
    expect(isBase58OfLength(`1${key}`, 32)).toBe(false);
    expect(isBase58OfLength("", 0)).toBe(false);
    expect(isBase58OfLength(42, 32)).toBe(false);
    expect(isBase58OfLength(`${key}0`, 32)).toBe(false);
  });
});
