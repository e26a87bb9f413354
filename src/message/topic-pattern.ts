import { InvalidOptionError } from "../errors.js";

/** The topic pattern used when none is configured: `veep/{tenant}/{site}/{device}/data`. */
export const DEFAULT_TOPIC_PATTERN = "veep/{tenant}/{site}/{device}/data";

/** The named segments every topic pattern must contain exactly once. */
const REQUIRED_SEGMENTS = ["tenant", "site", "device"] as const;

const NAMED_LEVEL = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** What a topic yields when it matches a {@link TopicPattern}. */
export interface TopicMatch {
  /** Value of the `{tenant}` level. */
  readonly tenantId: string;
  /** Value of the `{site}` level. */
  readonly siteId: string;
  /** Value of the `{device}` level. */
  readonly deviceId: string;
  /** Every named level by name, `tenant`, `site` and `device` included. */
  readonly segments: Readonly<Record<string, string>>;
}

/** A parsed topic pattern: the MQTT filter to subscribe with and a matcher for incoming topics. */
export interface TopicPattern {
  /** The pattern as written, e.g. `veep/{tenant}/{site}/{device}/data`. */
  readonly pattern: string;
  /** MQTT subscription filter: every `{name}` level replaced by `+`, e.g. `veep/+/+/+/data`. */
  readonly filter: string;
  /** Names of the named levels, in the order they appear. */
  readonly segmentNames: readonly string[];
  /**
   * Matches a concrete topic against the pattern.
   *
   * @param topic - a topic a message was published on
   * @returns the named levels, or `null` when the topic has a different shape, a different
   *   literal level, or an empty named level
   */
  match(topic: string): TopicMatch | null;
}

type Level = { readonly literal: string; readonly name?: undefined } | { readonly name: string };

function invalid(pattern: string, reason: string): InvalidOptionError {
  return new InvalidOptionError("topic", `${JSON.stringify(pattern)} ${reason}`);
}

function parseLevel(pattern: string, text: string): Level {
  const named = NAMED_LEVEL.exec(text);
  if (named) return { name: named[1]! };
  if (text.includes("{") || text.includes("}")) {
    throw invalid(
      pattern,
      `has the level ${JSON.stringify(text)}: a named segment is a whole level of letters, digits and _ in braces, like {device}`,
    );
  }
  if (text.includes("+") || text.includes("#")) {
    throw invalid(
      pattern,
      `has the level ${JSON.stringify(text)}: MQTT wildcards + and # are not allowed; use a named segment like {device}`,
    );
  }
  return { literal: text };
}

function checkNames(pattern: string, levels: readonly Level[]): string[] {
  const names: string[] = [];
  for (const level of levels) {
    if (level.name === undefined) continue;
    if (names.includes(level.name)) throw invalid(pattern, `contains {${level.name}} more than once`);
    names.push(level.name);
  }
  for (const required of REQUIRED_SEGMENTS) {
    if (!names.includes(required)) throw invalid(pattern, `must contain {${required}} as a whole level`);
  }
  return names;
}

function matchLevels(levels: readonly Level[], topic: string): Record<string, string> | null {
  const parts = topic.split("/");
  if (parts.length !== levels.length) return null;
  const entries: [string, string][] = [];
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    const part = parts[i]!;
    if (level.name === undefined) {
      if (part !== level.literal) return null;
    } else {
      if (part === "") return null;
      entries.push([level.name, part]);
    }
  }
  return Object.fromEntries(entries);
}

/**
 * Parses a topic pattern such as `veep/{tenant}/{site}/{device}/data`.
 *
 * A named segment (`{name}`: letters, digits and `_`) occupies a whole topic level and matches
 * any non-empty level. `{tenant}`, `{site}` and `{device}` must each appear exactly once; other
 * named segments are allowed and reported in {@link TopicMatch.segments}. Literal levels must
 * match exactly and may not contain the MQTT wildcards `+` and `#`.
 *
 * @param pattern - the pattern
 * @returns the parsed pattern with its subscription filter and matcher
 * @throws {@link InvalidOptionError} (option `topic`) when the pattern breaks a rule above
 *
 * @example
 * ```ts
 * const pattern = parseTopicPattern("veep/{tenant}/{site}/{device}/data");
 * pattern.filter; // "veep/+/+/+/data"
 * pattern.match("veep/factory1/line2/SENSOR_001/data");
 * // { tenantId: "factory1", siteId: "line2", deviceId: "SENSOR_001", segments: { … } }
 * pattern.match("veep/factory1/line2/SENSOR_001/status"); // null
 * ```
 */
export function parseTopicPattern(pattern: string): TopicPattern {
  if (typeof pattern !== "string" || pattern === "") {
    throw new InvalidOptionError("topic", "must be a non-empty topic pattern string");
  }
  if (pattern.includes("\u0000")) throw invalid(pattern, "contains U+0000, which MQTT forbids in topics");
  const levels = pattern.split("/").map((text) => parseLevel(pattern, text));
  const segmentNames = checkNames(pattern, levels);
  const filter = levels.map((level) => (level.name === undefined ? level.literal : "+")).join("/");

  return {
    pattern,
    filter,
    segmentNames,
    match(topic: string): TopicMatch | null {
      const segments = matchLevels(levels, topic);
      if (segments === null) return null;
      return {
        tenantId: segments["tenant"]!,
        siteId: segments["site"]!,
        deviceId: segments["device"]!,
        segments,
      };
    },
  };
}
