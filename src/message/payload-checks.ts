import { isDeviceSignature, SIGNATURE_MEMBER } from "../signing/device-signature.js";
import type { JsonTextIssue } from "./json-text-scan.js";
import {
  exceedsLength,
  firstLoneSurrogate,
  MAX_FIRMWARE_VERSION_LENGTH,
  MAX_ID_LENGTH,
  MAX_TOPIC_LENGTH,
  preview,
} from "./text-limits.js";
import type { TopicMatch } from "./topic-pattern.js";
import type { JsonObject, JsonValue, RejectionReason } from "./types.js";

/** A refused check: the reason code and the detail a {@link Rejection} carries. */
export interface Refusal {
  /** Stable reason code. */
  readonly reason: RejectionReason;
  /** Human-readable explanation. */
  readonly detail: string;
}

/**
 * Checks that the topic and its tenant, site and device fit their columns and hold no character
 * PostgreSQL cannot store or the pg driver would silently replace (U+0000, lone surrogates).
 *
 * @param topic - the topic
 * @param match - what the topic pattern extracted from it
 * @returns the refusal, or `undefined` when the topic is storable
 */
export function checkTopic(topic: string, match: TopicMatch): Refusal | undefined {
  if (exceedsLength(topic, MAX_TOPIC_LENGTH)) {
    return { reason: "field_too_long", detail: `topic is longer than ${MAX_TOPIC_LENGTH} characters` };
  }
  const ids = [
    ["tenant", match.tenantId],
    ["site", match.siteId],
    ["device", match.deviceId],
  ] as const;
  for (const [name, value] of ids) {
    if (exceedsLength(value, MAX_ID_LENGTH)) {
      return {
        reason: "field_too_long",
        detail: `${name} ${preview(value)} from the topic is longer than ${MAX_ID_LENGTH} characters`,
      };
    }
  }
  if (topic.includes("\u0000")) return { reason: "nul_character", detail: "topic contains U+0000" };
  const lone = firstLoneSurrogate(topic);
  if (lone >= 0)
    return { reason: "lone_surrogate", detail: `topic has an unpaired surrogate at index ${lone}` };
  return undefined;
}

/**
 * Describes a JSON value's kind for a `not_an_object` detail.
 *
 * @param value - a parsed JSON value
 * @returns e.g. `"an array"`, `"null"`, `"a number"`
 */
export function describeJsonKind(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Turns a {@link JsonTextIssue} into a refusal with a detail that says where and what to do.
 *
 * @param issue - the issue found in the payload text
 * @returns the refusal
 */
export function refuseTextIssue(issue: JsonTextIssue): Refusal {
  const where = `at character ${issue.offset}`;
  switch (issue.kind) {
    case "too_deep":
      return {
        reason: "invalid_json",
        detail: `payload is nested too deeply: more than ${issue.limit} arrays and objects inside one another ${where}`,
      };
    case "non_finite_number":
      return {
        reason: "invalid_json",
        detail: `number ${preview(issue.token, 40).slice(1, -1)} ${where} is beyond the range of a double; RFC 8785 canonical JSON cannot represent it`,
      };
    case "unsafe_integer":
      return {
        reason: "unsafe_integer",
        detail: `integer ${preview(issue.token, 40).slice(1, -1)} ${where} is outside ±(2^53−1) and would lose precision; send it as a string`,
      };
    case "nul_character":
      return {
        reason: "nul_character",
        detail: `${issue.inKey ? "key" : "string"} ${where} contains \\u0000, which PostgreSQL JSONB cannot store`,
      };
    case "lone_surrogate": {
      const unit = `\\u${issue.codeUnit.toString(16).padStart(4, "0")}`;
      return {
        reason: "lone_surrogate",
        detail: `${issue.inKey ? "key" : "string"} ${where} contains the unpaired surrogate ${unit}`,
      };
    }
  }
}

/**
 * Checks a payload's own `deviceId` (when present) against the topic's device: a reading belongs to
 * the device its topic names.
 *
 * @param payload - the parsed payload
 * @param deviceId - the device from the topic
 * @returns the refusal, or `undefined` when absent or equal
 */
export function checkDeviceId(payload: JsonObject, deviceId: string): Refusal | undefined {
  if (!Object.hasOwn(payload, "deviceId")) return undefined;
  const claimed = payload["deviceId"];
  if (claimed === deviceId) return undefined;
  const detail =
    typeof claimed === "string"
      ? `payload deviceId ${preview(claimed)} differs from the topic's device ${preview(deviceId)}`
      : `payload deviceId is ${describeJsonKind(claimed ?? null)}, not the topic's device ${preview(deviceId)}`;
  return { reason: "device_mismatch", detail };
}

/**
 * Extracts `payload.metadata.firmware_version` and checks it fits `devices.firmware_version`.
 *
 * @param payload - the parsed payload
 * @returns the version (`undefined` when absent or not a string), or a refusal
 */
export function firmwareVersionOf(payload: JsonObject): string | undefined | Refusal {
  const metadata = payload["metadata"];
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return undefined;
  if (!Object.hasOwn(metadata, "firmware_version")) return undefined;
  const version = metadata["firmware_version"];
  if (typeof version !== "string") return undefined;
  if (exceedsLength(version, MAX_FIRMWARE_VERSION_LENGTH)) {
    return {
      reason: "field_too_long",
      detail: `metadata.firmware_version ${preview(version)} is longer than ${MAX_FIRMWARE_VERSION_LENGTH} characters`,
    };
  }
  return version;
}

/**
 * The payload's top-level `signature` member when it is a well-formed device signature (base58 of
 * 64 bytes). Whether it is the device's is for the bridge's signature policy to check.
 *
 * @param payload - the parsed payload
 * @returns the signature, or `undefined` when absent or malformed
 */
export function signatureOf(payload: JsonObject): string | undefined {
  if (!Object.hasOwn(payload, SIGNATURE_MEMBER)) return undefined;
  const signature = payload[SIGNATURE_MEMBER];
  return isDeviceSignature(signature) ? signature : undefined;
}
