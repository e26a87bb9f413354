import fc from "fast-check";
import { canonicalize } from "json-canonicalize";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/hashing/index.js";
import type { JsonValue } from "../../src/message/types.js";

function fromIeee754(hex: string): number {
  return Buffer.from(hex, "hex").readDoubleBE(0);
}

/** The input with -0 as 0: RFC 8785 writes -0 as 0, the one value that does not come back as it went in. */
function withoutNegativeZero(value: JsonValue): JsonValue {
  if (typeof value === "number") return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([name, member]) => [name, withoutNegativeZero(member)]),
    );
  }
  return value;
}

describe("canonicalJson (RFC 8785)", () => {
  it("serialises the §3.2.2 sample object to the bytes the RFC prints", () => {
    const parsed = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    ) as JsonValue;
    const expectedUtf8 =
      "7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e" +
      "756d62657273223a5b3333333333333333332e333333333333332c31652b3330" +
      "2c342e352c302e3030322c31652d32375d2c22737472696e67223a22e282ac24" +
      "5c75303030665c6e4127425c225c5c5c5c5c222f227d";
    expect(Buffer.from(canonicalJson(parsed), "utf8").toString("hex")).toBe(expectedUtf8);
  });

  it("sorts member names by UTF-16 code units as §3.2.3 shows", () => {
    const parsed = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        ' "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        ' "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    ) as Record<string, JsonValue>;
    const values = [...canonicalJson(parsed).matchAll(/:"([^"]*)"/g)].map((match) => match[1]);
    expect(values).toEqual([
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
    expect(canonicalJson(parsed).startsWith('{"\\r":"Carriage Return","1":"One","\u0080":')).toBe(true);
  });

  it.each([
    ["0000000000000000", "0"],
    ["8000000000000000", "0"],
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["44b52d02c7e14af7", "1.0000000000000001e+23"],
    ["444b1ae4d6e2ef4e", "999999999999999700000"],
    ["444b1ae4d6e2ef4f", "999999999999999900000"],
    ["444b1ae4d6e2ef50", "1e+21"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["41b3de4355555553", "333333333.3333332"],
    ["41b3de4355555554", "333333333.33333325"],
    ["41b3de4355555555", "333333333.3333333"],
    ["41b3de4355555556", "333333333.3333334"],
    ["41b3de4355555557", "333333333.33333343"],
    ["becbf647612f3696", "-0.0000033333333333333333"],
    ["43143ff3c1cb0959", "1424953923781206.2"],
  ])("serialises the Appendix B number 0x%s as %s", (ieee754, expected) => {
    expect(canonicalJson(fromIeee754(ieee754))).toBe(expected);
    expect(canonicalJson([fromIeee754(ieee754)])).toBe(`[${expected}]`);
  });

  it("writes 1e-7 in exponent form and -0 inside an object as 0", () => {
    expect(canonicalJson({ a: 1e-7, b: -0 })).toBe('{"a":1e-7,"b":0}');
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
  ])("refuses %s with a TypeError naming where it is", (_name, value) => {
    expect(() => canonicalJson({ readings: [1, value] })).toThrow(TypeError);
    expect(() => canonicalJson({ readings: [1, value] })).toThrow(/\$\["readings"\]\[1\].*not a JSON number/);
  });

  it("refuses values JSON.parse cannot produce", () => {
    const refused: unknown[] = [
      undefined,
      { a: undefined },
      [undefined],
      () => 1,
      { f: () => 1 },
      10n,
      Symbol("s"),
      new Date(0),
      new Map(),
      Buffer.from("x"),
      // biome-ignore lint/suspicious/noSparseArray: a hole is what is being refused
      [1, , 2],
      "lone \ud800 surrogate",
      { "\udc00": 1 },
    ];
    for (const value of refused) expect(() => canonicalJson(value as JsonValue)).toThrow(TypeError);
  });

  it("refuses a cycle but accepts the same object reached twice", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    expect(() => canonicalJson(cyclic as JsonValue)).toThrow(/cycle/);
  });

  it("keeps astral characters and escapes control characters like JSON.stringify", () => {
    expect(canonicalJson("😀\u0000\u001f\u007f\t/")).toBe('"😀\\u0000\\u001f\u007f\\t/"');
    for (const text of ['quote " and backslash \\', "line\u2028separator", "plain ascii", "é ü 中文"]) {
      expect(canonicalJson(text)).toBe(JSON.stringify(text));
      expect(canonicalJson({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
    }
  });

  it('keeps a "__proto__" member that JSON.parse created as an ordinary member', () => {
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":2}}') as JsonValue)).toBe(
      '{"__proto__":{"x":2},"b":1}',
    );
  });

  it("accepts objects without a prototype (as some parsers build them)", () => {
    const bare = Object.create(null) as Record<string, JsonValue>;
    bare["b"] = 2;
    bare["a"] = 1;
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
  });

  it("agrees with json-canonicalize and round-trips through JSON.parse (-0 aside) for random JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }), (value) => {
        const ours = canonicalJson(value as JsonValue);
        expect(ours).toBe(canonicalize(value));
        expect(JSON.parse(ours)).toEqual(withoutNegativeZero(value as JsonValue));
      }),
      { numRuns: 500 },
    );
  });

  it("gives the same text whatever the key order and whitespace of the source JSON", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: "binary" }), fc.jsonValue({ maxDepth: 2 })), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        const pretty = JSON.parse(JSON.stringify(reversed, null, 2)) as JsonValue;
        expect(canonicalJson(pretty)).toBe(canonicalJson(record as JsonValue));
      }),
      { numRuns: 200 },
    );
  });
});
