import {
  type DecoderOptions,
  type ResolvedDecoderOptions,
  resolveDecoderOptions,
} from "./decoder-options.js";
import { findJsonTextIssue } from "./json-text-scan.js";
import {
  checkDeviceId,
  checkTopic,
  describeJsonKind,
  firmwareVersionOf,
  type Refusal,
  refuseTextIssue,
  signatureOf,
} from "./payload-checks.js";
import { preview, printable } from "./text-limits.js";
import type { TopicMatch, TopicPattern } from "./topic-pattern.js";
import type { DecodeResult, JsonObject, JsonValue, Reading, Rejection } from "./types.js";
import { firstInvalidUtf8Offset } from "./utf8.js";

/** One message as a source delivers it. */
export interface DecodeInput {
  /** Topic it was published on. */
  readonly topic: string;
  /** Raw payload bytes. */
  readonly payload: Uint8Array;
  /** When the source received it. */
  readonly receivedAt: Date;
  /** `true` when the transport flagged it as a redelivery (MQTT DUP); carried into the reading. */
  readonly redelivered?: boolean;
}

/** Turns raw messages into {@link Reading}s or {@link Rejection}s. Pure: no I/O, never throws on bad input. */
export interface Decoder {
  /** The parsed topic pattern (its `filter` is what a source subscribes to). */
  readonly topicPattern: TopicPattern;
  /** The payload size limit in bytes. */
  readonly maxPayloadBytes: number;
  /**
   * Decodes one message. Bad input yields `{ ok: false, rejection }`; it never throws for bad input.
   *
   * @param input - topic, payload bytes and receive time
   * @returns the reading or the rejection
   */
  decode(input: DecodeInput): DecodeResult;
}

/** A topic's outcome: what the pattern extracted, or why the topic is refused. */
type TopicVerdict = { readonly match: TopicMatch } | { readonly refusal: Refusal };

/** Topics remembered per decoder (the cache starts over when full), and the longest one cached. */
const TOPIC_CACHE_SIZE = 1024;
const MAX_CACHED_TOPIC_LENGTH = 256;

interface Utf8Decoder {
  decode(input: Uint8Array): string;
}

interface Parsed {
  readonly payload: JsonObject;
}

function parsePayload(bytes: Uint8Array, utf8: Utf8Decoder): Parsed | Refusal {
  if (bytes.byteLength === 0) return { reason: "invalid_json", detail: "payload is empty" };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return {
      reason: "invalid_utf8",
      detail: `payload is not valid UTF-8 (first bad sequence at byte ${firstInvalidUtf8Offset(bytes)})`,
    };
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (error) {
    return { reason: "invalid_json", detail: (error as Error).message };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      reason: "not_an_object",
      detail: `payload is ${describeJsonKind(value)}; a JSON object is required`,
    };
  }
  const issue = findJsonTextIssue(text);
  if (issue) return refuseTextIssue(issue);
  return { payload: value };
}

function runValidator(
  options: ResolvedDecoderOptions,
  payload: JsonObject,
  topic: string,
  match: TopicMatch,
) {
  const { validate } = options;
  if (validate === undefined) return undefined;
  let verdict: unknown;
  try {
    verdict = validate(payload, { topic, ...match });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { reason: "validation_failed", detail: `validator threw: ${message}` } as const;
  }
  if (verdict === true) return undefined;
  const detail =
    typeof verdict === "string"
      ? verdict || "validator refused the payload"
      : `validator returned ${String(verdict)} instead of true or a refusal string`;
  return { reason: "validation_failed", detail } as const;
}

function canonicalise(options: ResolvedDecoderOptions, payload: JsonObject): string | Refusal {
  try {
    return options.canonicalJson(payload);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return {
      reason: "invalid_json",
      detail: `payload is nested too deeply to canonicalise (${error.message})`,
    };
  }
}

/**
 * Creates a {@link Decoder}: the one place where an MQTT message becomes a reading or a rejection.
 *
 * Checks run in this order, the first failure deciding the reason: size (`too_large`, on the
 * byte length, before anything else), topic (`topic_mismatch`; then `field_too_long` for a topic
 * over 255 or a tenant/site/device over 100 characters; `nul_character`/`lone_surrogate` for a
 * topic PostgreSQL could not store), UTF-8 (`invalid_utf8`; one leading byte order mark is
 * ignored, as RFC 8259 §8.1 allows, and still counts in `byteLength`), JSON (`invalid_json`,
 * also for a number beyond the range of a double such as `1e400`, which RFC 8785 cannot represent),
 * shape (`not_an_object`), source text (`invalid_json` for more than 1000 arrays and objects nested
 * in one another; `unsafe_integer`: a number token with neither fraction nor exponent beyond
 * ±(2^53−1); `nul_character`; `lone_surrogate`), `deviceId` against the
 * topic (`device_mismatch`), `metadata.firmware_version` over 50 characters (`field_too_long`),
 * then the user's validator (`validation_failed`). The payload is parsed once; canonical JSON
 * and the hash are computed only for accepted payloads. Lengths count code points, as
 * PostgreSQL's `VARCHAR(n)` does. A rejection's detail shows control characters of the input
 * as `\uXXXX` escapes. Bad input never throws; an error thrown by an injected
 * `canonicalJson` or `hashCanonicalJson` propagates, since it is a fault of configuration.
 *
 * @param options - see {@link DecoderOptions}; all optional
 * @returns the decoder
 * @throws {@link InvalidOptionError} naming the first invalid option
 *
 * @example
 * ```ts
 * const decoder = createDecoder({
 *   topic: "veep/{tenant}/{site}/{device}/data",
 *   validate: (payload) => typeof payload.kwh === "number" || "kwh must be a number",
 * });
 * const result = decoder.decode({
 *   topic: "veep/factory1/line2/SENSOR_001/data",
 *   payload: new TextEncoder().encode('{"deviceId":"SENSOR_001","kwh":15.7}'),
 *   receivedAt: new Date(),
 * });
 * if (result.ok) console.log(result.reading.deviceId, result.reading.messageHash);
 * else console.warn(result.rejection.reason, result.rejection.detail);
 * ```
 */
export function createDecoder(options: DecoderOptions = {}): Decoder {
  const resolved = resolveDecoderOptions(options);
  const { topicPattern, maxPayloadBytes } = resolved;
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

  function refuse(input: DecodeInput, refusal: Refusal, deviceId?: string): DecodeResult {
    const { topic, payload, receivedAt } = input;
    const rejection: Rejection = {
      topic,
      payload,
      receivedAt,
      reason: refusal.reason,
      detail: printable(refusal.detail),
    };
    return { ok: false, rejection: deviceId === undefined ? rejection : { ...rejection, deviceId } };
  }

  // Devices publish on the same few topics over and over: parse and check each topic once.
  const topics = new Map<string, TopicVerdict>();
  function topicVerdict(topic: string): TopicVerdict {
    const known = topics.get(topic);
    if (known !== undefined) return known;
    const match = topicPattern.match(topic);
    const refusal: Refusal | undefined =
      match === null
        ? {
            reason: "topic_mismatch",
            detail: `topic ${preview(topic, 120)} does not match ${JSON.stringify(topicPattern.pattern)}`,
          }
        : checkTopic(topic, match);
    const verdict: TopicVerdict = refusal === undefined ? { match: match! } : { refusal };
    if (topic.length <= MAX_CACHED_TOPIC_LENGTH) {
      if (topics.size >= TOPIC_CACHE_SIZE) topics.clear();
      topics.set(topic, verdict);
    }
    return verdict;
  }

  function decode(input: DecodeInput): DecodeResult {
    const { topic, payload: bytes, receivedAt } = input;
    if (bytes.byteLength > maxPayloadBytes) {
      return refuse(input, {
        reason: "too_large",
        detail: `payload is ${bytes.byteLength} bytes; maxPayloadBytes is ${maxPayloadBytes}`,
      });
    }
    const verdict = topicVerdict(topic);
    if ("refusal" in verdict) return refuse(input, verdict.refusal);
    const { match } = verdict;
    const { deviceId } = match;
    const parsed = parsePayload(bytes, utf8);
    if ("reason" in parsed) return refuse(input, parsed, deviceId);
    const { payload } = parsed;
    const deviceRefusal = checkDeviceId(payload, deviceId);
    if (deviceRefusal) return refuse(input, deviceRefusal, deviceId);
    const firmwareVersion = firmwareVersionOf(payload);
    if (typeof firmwareVersion === "object") return refuse(input, firmwareVersion, deviceId);
    const validatorRefusal = runValidator(resolved, payload, topic, match);
    if (validatorRefusal) return refuse(input, validatorRefusal, deviceId);
    const canonicalJson = canonicalise(resolved, payload);
    if (typeof canonicalJson !== "string") return refuse(input, canonicalJson, deviceId);

    const reading: Reading = {
      messageId: resolved.generateMessageId(receivedAt),
      topic,
      tenantId: match.tenantId,
      siteId: match.siteId,
      deviceId,
      payload,
      canonicalJson,
      messageHash: resolved.hashCanonicalJson(canonicalJson),
      receivedAt,
      firmwareVersion,
      byteLength: bytes.byteLength,
      rawPayload: bytes,
      deviceSignature: signatureOf(payload),
      ...(input.redelivered === true ? { redelivered: true } : {}),
    };
    return { ok: true, reading };
  }

  return { topicPattern, maxPayloadBytes, decode };
}
