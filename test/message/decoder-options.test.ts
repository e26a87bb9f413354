import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/errors.js";
import {
  createDecoder,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_TOPIC_PATTERN,
  type DecoderOptions,
} from "../../src/message/index.js";

function optionError(options: unknown): InvalidOptionError {
  try {
    createDecoder(options as DecoderOptions);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error("options were accepted");
}

describe("createDecoder options", () => {
  it("defaults to the documented topic pattern and 256 KiB", () => {
    const decoder = createDecoder();
    expect(decoder.topicPattern.pattern).toBe(DEFAULT_TOPIC_PATTERN);
    expect(decoder.topicPattern.filter).toBe("veep/+/+/+/data");
    expect(decoder.maxPayloadBytes).toBe(262_144);
    expect(DEFAULT_MAX_PAYLOAD_BYTES).toBe(262_144);
  });

  it.each([[0], [-1], [1.5], ["1024"], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    "refuses maxPayloadBytes %j",
    (maxPayloadBytes) => {
      expect(optionError({ maxPayloadBytes }).option).toBe("maxPayloadBytes");
    },
  );

  it.each([["validate"], ["canonicalJson"], ["hashCanonicalJson"], ["generateMessageId"]])(
    "refuses a %s that is not a function",
    (name) => {
      expect(optionError({ [name]: "yes" }).option).toBe(name);
    },
  );

  it("refuses an invalid topic pattern, naming topic", () => {
    expect(optionError({ topic: "veep/{tenant}/{device}" }).option).toBe("topic");
    expect(optionError({ topic: 7 }).option).toBe("topic");
  });

  it("refuses options that are not an object", () => {
    expect(optionError(null).option).toBe("options");
  });
});
