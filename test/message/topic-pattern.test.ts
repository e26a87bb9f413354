import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/errors.js";
import { DEFAULT_TOPIC_PATTERN, parseTopicPattern } from "../../src/message/index.js";

function invalidPatternError(pattern: string): InvalidOptionError {
  try {
    parseTopicPattern(pattern);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error(`pattern ${JSON.stringify(pattern)} was accepted`);
}

describe("parseTopicPattern", () => {
  it("derives the MQTT filter of the default pattern", () => {
    const pattern = parseTopicPattern(DEFAULT_TOPIC_PATTERN);
    expect(DEFAULT_TOPIC_PATTERN).toBe("veep/{tenant}/{site}/{device}/data");
    expect(pattern.pattern).toBe(DEFAULT_TOPIC_PATTERN);
    expect(pattern.filter).toBe("veep/+/+/+/data");
    expect(pattern.segmentNames).toEqual(["tenant", "site", "device"]);
  });

  it("allows extra named segments in any order and reports them", () => {
    const pattern = parseTopicPattern("{region}/plant/{device}/{site}/{tenant}/{kind}");
    expect(pattern.filter).toBe("+/plant/+/+/+/+");
    expect(pattern.segmentNames).toEqual(["region", "device", "site", "tenant", "kind"]);
    expect(pattern.match("eu/plant/S1/line2/factory1/energy")).toEqual({
      tenantId: "factory1",
      siteId: "line2",
      deviceId: "S1",
      segments: { region: "eu", device: "S1", site: "line2", tenant: "factory1", kind: "energy" },
    });
  });

  it("matches a sample topic into tenant, site and device", () => {
    const match = parseTopicPattern(DEFAULT_TOPIC_PATTERN).match("veep/factory1/line2/SENSOR_001/data");
    expect(match).toEqual({
      tenantId: "factory1",
      siteId: "line2",
      deviceId: "SENSOR_001",
      segments: { tenant: "factory1", site: "line2", device: "SENSOR_001" },
    });
  });

  it.each([
    ["a different literal level", "veep/factory1/line2/SENSOR_001/status"],
    ["a different first level", "other/factory1/line2/SENSOR_001/data"],
    ["a missing level", "veep/factory1/SENSOR_001/data"],
    ["an extra level", "veep/factory1/line2/x/SENSOR_001/data"],
    ["a trailing slash", "veep/factory1/line2/SENSOR_001/data/"],
    ["a leading slash", "/veep/factory1/line2/SENSOR_001/data"],
    ["an empty tenant", "veep//line2/SENSOR_001/data"],
    ["an empty device", "veep/factory1/line2//data"],
    ["the empty topic", ""],
  ])("does not match a topic with %s", (_, topic) => {
    expect(parseTopicPattern(DEFAULT_TOPIC_PATTERN).match(topic)).toBeNull();
  });

  it("keeps a level named __proto__ as an ordinary segment", () => {
    const match = parseTopicPattern("{__proto__}/{tenant}/{site}/{device}").match("x/t/s/d");
    expect(Object.keys(match?.segments ?? {})).toEqual(["__proto__", "tenant", "site", "device"]);
    expect(Object.getPrototypeOf(match?.segments)).toBe(Object.prototype);
  });

  it.each([
    ["is empty", "", /non-empty/],
    ["lacks {tenant}", "veep/{site}/{device}/data", /\{tenant\}/],
    ["lacks {site}", "veep/{tenant}/{device}/data", /\{site\}/],
    ["lacks {device}", "veep/{tenant}/{site}/data", /\{device\}/],
    ["repeats {device}", "veep/{tenant}/{site}/{device}/{device}", /more than once/],
    ["repeats another name", "{x}/{tenant}/{site}/{device}/{x}", /more than once/],
    ["puts a named segment inside a level", "veep/{tenant}/{site}/dev-{device}/data", /whole level/],
    ["appends text to a named segment", "veep/{tenant}/{site}/{device}x/data", /whole level/],
    ["has an empty name", "veep/{tenant}/{site}/{device}/{}", /whole level/],
    ["has a name with a hyphen", "veep/{tenant}/{site}/{device}/{my-name}", /whole level/],
    ["has an unclosed brace", "veep/{tenant}/{site}/{device/data", /whole level/],
    ["uses the + wildcard", "veep/+/{tenant}/{site}/{device}", /wildcards/],
    ["uses the # wildcard", "veep/{tenant}/{site}/{device}/#", /wildcards/],
    ["hides + inside a literal", "veep/a+b/{tenant}/{site}/{device}", /wildcards/],
    ["contains U+0000", "veep/{tenant}/{site}/{device}/da\u0000ta", /U\+0000/],
  ])("refuses a pattern that %s, naming the option topic", (_, pattern, message) => {
    const error = invalidPatternError(pattern);
    expect(error.option).toBe("topic");
    expect(error.code).toBe("INVALID_OPTION");
    expect(error.message).toMatch(message);
  });

  it("refuses a pattern that is not a string", () => {
    expect(invalidPatternError(42 as unknown as string).option).toBe("topic");
  });
});
