import { describe, expect, it } from "vitest";
import { createDecoder, type DecoderOptions } from "../../src/message/index.js";
import { bytes, expectRejection, RECEIVED_AT, SEED_PAYLOAD_TEXT, SEED_TOPIC } from "./fixtures.js";

function decode(payload: Uint8Array | string, topic = SEED_TOPIC, options: DecoderOptions = {}) {
  const raw = typeof payload === "string" ? bytes(payload) : payload;
  return createDecoder(options).decode({ topic, payload: raw, receivedAt: RECEIVED_AT });
}

describe("createDecoder: rejections", () => {
  it("keeps the raw bytes, topic and receive time unchanged in a rejection", () => {
    const payload = new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]);
    const copy = payload.slice();
    const rejection = expectRejection(decode(payload), "invalid_utf8");
    expect(rejection.payload).toBe(payload);
    expect(rejection.payload).toEqual(copy);
    expect(rejection.topic).toBe(SEED_TOPIC);
    expect(rejection.receivedAt).toBe(RECEIVED_AT);
  });

  describe("details", () => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
    const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
    it.each([
      [
        "a JSON parse error quoting the text",
        "\u001b[2J\u001b]0;pwned\u0007\n2025-01-01 forged",
        "invalid_json",
      ],
      ["a payload deviceId", '{"deviceId":"\u009b31m\u202eevil"}', "device_mismatch"],
    ] as const)("write control characters of %s as escapes", (_, text, reason) => {
      const detail = expectRejection(decode(text), reason).detail;
      expect(detail).not.toMatch(CONTROLS);
      expect(detail).toMatch(/\\u(001b|009b)/);
    });

    it("write control characters of a validator's refusal as escapes", () => {
      const validate = () => "bad value\r\n\u001b[1mforged";
      const detail = expectRejection(decode("{}", SEED_TOPIC, { validate }), "validation_failed").detail;
      expect(detail).toBe("bad value\\u000d\\u000a\\u001b[1mforged");
    });
  });

  describe("too_large", () => {
    it("refuses a 300 KiB payload by its byte length, before looking at the topic", () => {
      const text = `{"blob":"${"x".repeat(300 * 1024)}"}`;
      const rejection = expectRejection(decode(text, "not/the/pattern"), "too_large");
      expect(rejection.detail).toContain("262144");
    });

    it("accepts exactly maxPayloadBytes and refuses one byte more", () => {
      const text = '{"a":1}';
      expect(decode(text, SEED_TOPIC, { maxPayloadBytes: text.length }).ok).toBe(true);
      expectRejection(decode(text, SEED_TOPIC, { maxPayloadBytes: text.length - 1 }), "too_large");
    });
  });

  it("topic_mismatch: refuses a topic outside the pattern", () => {
    const rejection = expectRejection(
      decode(SEED_PAYLOAD_TEXT, "veep/factory1/line2/SENSOR_001/status"),
      "topic_mismatch",
    );
    expect(rejection.detail).toContain("veep/{tenant}/{site}/{device}/data");
  });

  describe("field_too_long", () => {
    it("refuses a 101-character device in the topic", () => {
      const device = "D".repeat(101);
      const rejection = expectRejection(decode("{}", `veep/factory1/line2/${device}/data`), "field_too_long");
      expect(rejection.detail).toMatch(/^device .* longer than 100/);
    });

    it.each([
      ["tenant", `veep/${"t".repeat(101)}/line2/S/data`],
      ["site", `veep/factory1/${"s".repeat(101)}/S/data`],
    ])("refuses a 101-character %s", (name, topic) => {
      expect(expectRejection(decode("{}", topic), "field_too_long").detail).toMatch(new RegExp(`^${name} `));
    });

    it("refuses a topic longer than 255 characters whose ids fit", () => {
      const topic = `veep/${"t".repeat(100)}/${"s".repeat(100)}/${"d".repeat(50)}/data`;
      expect(topic.length).toBe(262);
      expect(expectRejection(decode("{}", topic), "field_too_long").detail).toMatch(/^topic .*255/);
      expect(decode("{}", topic.replace("d".repeat(50), "d".repeat(43))).ok).toBe(true);
    });

    it("refuses a metadata.firmware_version longer than the 50-character column", () => {
      const text = JSON.stringify({ metadata: { firmware_version: "1".repeat(51) } });
      expect(expectRejection(decode(text), "field_too_long").detail).toContain("firmware_version");
    });
  });

  it.each([
    ["U+0000", "veep/factory1/line2/SEN\u0000SOR/data", "nul_character"],
    ["a lone surrogate", "veep/factory1/line2/SEN\ud800SOR/data", "lone_surrogate"],
  ] as const)("refuses a topic containing %s that PostgreSQL could not store", (_, topic, reason) => {
    expect(expectRejection(decode("{}", topic), reason).detail).toMatch(/^topic /);
  });

  describe("invalid_utf8", () => {
    it.each([
      ["C3 28 (bad continuation)", [0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d], 6],
      ["a lone continuation byte", [0x7b, 0x80, 0x7d], 1],
      ["an encoded surrogate (ED A0 80)", [0x7b, 0xed, 0xa0, 0x80, 0x7d], 1],
      ["an overlong slash (C0 AF)", [0x7b, 0xc0, 0xaf, 0x7d], 1],
      ["a truncated sequence at the end", [0x7b, 0x7d, 0xe2, 0x82], 2],
    ])("refuses %s and names the byte offset", (_, raw, offset) => {
      const rejection = expectRejection(decode(new Uint8Array(raw)), "invalid_utf8");
      expect(rejection.detail).toContain(`at byte ${offset}`);
    });

    it("keeps refusing after an earlier refusal (the decoder carries no state)", () => {
      const decoder = createDecoder();
      const bad = decoder.decode({
        topic: SEED_TOPIC,
        payload: new Uint8Array([0xe2, 0x82]),
        receivedAt: RECEIVED_AT,
      });
      expectRejection(bad, "invalid_utf8");
      expect(
        decoder.decode({ topic: SEED_TOPIC, payload: bytes('{"a":1}'), receivedAt: RECEIVED_AT }).ok,
      ).toBe(true);
    });
  });

  describe("invalid_json", () => {
    it("refuses an empty payload (such as a retained-message delete)", () => {
      expect(expectRejection(decode(""), "invalid_json").detail).toBe("payload is empty");
    });

    it.each([['{"a":'], ["   "], ["{'a':1}"], ["\ufeff"], ['{"a":1}}'], ["NaN"]])(
      "refuses %j with the parser's message",
      (text) => {
        let parserMessage = "";
        try {
          JSON.parse(text.replace(/^\ufeff/, ""));
        } catch (error) {
          parserMessage = (error as Error).message;
        }
        expect(expectRejection(decode(text), "invalid_json").detail).toBe(parserMessage);
      },
    );

    it.each([
      ["1e400", '{"v":1e400}'],
      ["-1.5E+309", '{"v":-1.5E+309}'],
      ["a 400-digit literal with a fraction", `{"v":${"9".repeat(400)}.5}`],
    ])("refuses %s, a number JSON.parse turns into Infinity", (_, text) => {
      expect(expectRejection(decode(text), "invalid_json").detail).toMatch(/beyond the range of a double/);
    });

    it("outranks an unsafe integer earlier in the text with a number beyond a double", () => {
      expectRejection(decode('{"a":9007199254740993,"b":1e999}'), "invalid_json");
    });

    it("refuses nesting too deep to canonicalise instead of throwing", () => {
      const depth = 30_000;
      const text = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
      expect(expectRejection(decode(text), "invalid_json").detail).toMatch(/nested too deeply/);
    });

    it.each([
      ["arrays", "[", "]"],
      ["objects", '{"k":', "}"],
    ])(
      "accepts 1000 nested arrays and objects and refuses 1001 (%s), whatever the call stack",
      (_, open, close) => {
        const nested = (n: number) => `{"d":${open.repeat(n - 1)}0${close.repeat(n - 1)}}`;
        expect(decode(nested(1000)).ok).toBe(true);
        const detail = expectRejection(decode(nested(1001)), "invalid_json").detail;
        expect(detail).toMatch(/nested too deeply: more than 1000 arrays and objects/);
      },
    );

    it("does not count brackets inside strings, escaped quotes included, towards the nesting", () => {
      const text = `{"s":"\\\\\\"${"[{".repeat(3000)}","t":"\\\\"}`;
      expect(JSON.parse(text)).toEqual({ s: `\\"${"[{".repeat(3000)}`, t: "\\" });
      expect(decode(text).ok).toBe(true);
    });
  });

  it.each([
    ["[1,2]", "an array"],
    ["42", "a number"],
    ['"str"', "a string"],
    ["null", "null"],
    ["true", "a boolean"],
  ])("not_an_object: refuses %s as %s", (text, kind) => {
    expect(expectRejection(decode(text), "not_an_object").detail).toBe(
      `payload is ${kind}; a JSON object is required`,
    );
  });

  describe("unsafe_integer", () => {
    it.each([
      ['{"v":9007199254740993}', "9007199254740993"],
      ['{"v":-9007199254740993}', "-9007199254740993"],
      ['{"v":9007199254740992}', "9007199254740992"],
      ['{"a":[1,2,{"b":123456789012345678901234567890}]}', "123456789012345678901234567890"],
      ['{"s":"9007199254740993","v":18446744073709551615}', "18446744073709551615"],
    ])("refuses %s although JSON.parse would round it", (text, token) => {
      expect(expectRejection(decode(text), "unsafe_integer").detail).toContain(
        `integer ${token} at character`,
      );
    });

    it("outranks a NUL that comes earlier in the text", () => {
      expectRejection(decode('{"s":"\\u0000","v":9007199254740993}'), "unsafe_integer");
    });
  });

  describe("nul_character", () => {
    it("refuses \\u0000 in a string value", () => {
      expect(expectRejection(decode('{"s":"a\\u0000b"}'), "nul_character").detail).toMatch(
        /^string at character 7/,
      );
    });

    it("refuses \\u0000 in a key", () => {
      expect(expectRejection(decode('{"k\\u0000":1}'), "nul_character").detail).toMatch(/^key /);
    });

    it.each([
      ["without", ""],
      ["with", ',"n":"1234567890123456"'],
    ])("finds an escape after an escaped backslash, %s a long digit run elsewhere", (_, extra) => {
      expectRejection(decode(`{"s":"\\\\\\u0000"${extra}}`), "nul_character");
      expect(decode(`{"s":"\\\\\\\\u0000"${extra}}`).ok).toBe(true);
    });

    it("outranks a lone surrogate that comes earlier in the text", () => {
      expectRejection(decode('{"a":"\\ud800","b":"\\u0000"}'), "nul_character");
    });
  });

  describe("lone_surrogate", () => {
    it.each([
      ['{"s":"\\ud800"}', "\\ud800"],
      ['{"s":"x\\uDC00y"}', "\\udc00"],
      ['{"s":"\\ud800\\u0041"}', "\\ud800"],
      ['{"s":"\\ude00\\ud83d"}', "\\ude00"],
      ['{"s":"\\ud83d\\ude00\\ud83d"}', "\\ud83d"],
    ])("refuses %s", (text, unit) => {
      expect(expectRejection(decode(text), "lone_surrogate").detail).toContain(unit);
    });

    it("refuses a key with a lone surrogate", () => {
      expect(expectRejection(decode('{"\\udc00key":1}'), "lone_surrogate").detail).toMatch(/^key /);
    });
  });

  describe("device_mismatch", () => {
    it("refuses a payload deviceId that contradicts the topic", () => {
      const text = SEED_PAYLOAD_TEXT.replace('"SENSOR_001"', '"SENSOR_002"');
      const rejection = expectRejection(decode(text), "device_mismatch");
      expect(rejection.detail).toBe(
        'payload deviceId "SENSOR_002" differs from the topic\'s device "SENSOR_001"',
      );
    });

    it.each([['{"deviceId":1}'], ['{"deviceId":null}'], ['{"deviceId":["SENSOR_001"]}']])(
      "refuses a non-string deviceId %s",
      (text) => {
        expectRejection(decode(text), "device_mismatch");
      },
    );
  });

  describe("validation_failed", () => {
    it("refuses with the validator's string as detail", () => {
      const validate = () => "kwh must be a number";
      expect(
        expectRejection(decode('{"kwh":"x"}', SEED_TOPIC, { validate }), "validation_failed").detail,
      ).toBe("kwh must be a number");
    });

    it("refuses with the message of an error the validator throws", () => {
      const validate = (): true => {
        throw new TypeError("schema says no");
      };
      const rejection = expectRejection(decode("{}", SEED_TOPIC, { validate }), "validation_failed");
      expect(rejection.detail).toBe("validator threw: schema says no");
    });

    it("refuses when a JavaScript validator returns false", () => {
      const validate = (() => false) as unknown as () => true;
      expect(expectRejection(decode("{}", SEED_TOPIC, { validate }), "validation_failed").detail).toMatch(
        /false/,
      );
    });

    it("is not called for a payload the built-in checks refuse", () => {
      let calls = 0;
      const validate = (): true => {
        calls++;
        return true;
      };
      expectRejection(decode('{"deviceId":"other"}', SEED_TOPIC, { validate }), "device_mismatch");
      expect(calls).toBe(0);
    });
  });
});
