import { InvalidOptionError } from "../errors.js";
import { canonicalJson, hashCanonicalJson } from "../hashing/index.js";
import { functionOption, integerOption } from "../validation.js";
import { messageIdAt } from "./message-id.js";
import { DEFAULT_TOPIC_PATTERN, parseTopicPattern, type TopicPattern } from "./topic-pattern.js";
import type { JsonObject, JsonValue } from "./types.js";

/** Default of {@link DecoderOptions.maxPayloadBytes}: 256 KiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 262_144;

/** What a {@link PayloadValidator} knows about the message besides its payload. */
export interface ValidationContext {
  /** The full topic. */
  readonly topic: string;
  /** Tenant from the topic. */
  readonly tenantId: string;
  /** Site from the topic. */
  readonly siteId: string;
  /** Device from the topic (a payload `deviceId`, when present, has already been checked against it). */
  readonly deviceId: string;
  /** Every named level of the topic pattern by name. */
  readonly segments: Readonly<Record<string, string>>;
}

/**
 * A user check run on every payload that passed the built-in checks.
 * Return `true` to accept; return a string to refuse (the string becomes the rejection's detail);
 * a thrown error also refuses, with its message. It must not modify the payload.
 */
export type PayloadValidator = (payload: JsonObject, context: ValidationContext) => true | string;

/** Options of {@link createDecoder}; every one is optional. */
export interface DecoderOptions {
  /**
   * Topic pattern that yields tenant, site and device (see {@link parseTopicPattern}).
   * @defaultValue {@link DEFAULT_TOPIC_PATTERN} (`veep/{tenant}/{site}/{device}/data`)
   */
  topic?: string;
  /**
   * Largest accepted payload in bytes; a larger one is rejected as `too_large` before any parsing.
   * @defaultValue 262144 (256 KiB)
   */
  maxPayloadBytes?: number;
  /**
   * Extra check of each payload; a refusal is rejected as `validation_failed`.
   * @defaultValue none (every payload that passes the built-in checks is accepted)
   */
  validate?: PayloadValidator;
  /**
   * Canonical JSON serialiser; its output is what the message hash covers.
   * @defaultValue RFC 8785 canonical JSON from the hashing module
   */
  canonicalJson?: (value: JsonValue) => string;
  /**
   * Hash of the canonical JSON, as lowercase hex.
   * @defaultValue SHA-256 from the hashing module
   */
  hashCanonicalJson?: (canonical: string) => string;
  /**
   * Generator of {@link Reading.messageId} from the reading's `receivedAt`; inject one for
   * deterministic tests.
   * @defaultValue a UUID version 7 carrying `receivedAt` (`messageIdAt`)
   */
  generateMessageId?: (receivedAt: Date) => string;
}

/** Options with every default applied; what a decoder runs with. */
export interface ResolvedDecoderOptions {
  /** The parsed topic pattern. */
  readonly topicPattern: TopicPattern;
  /** See {@link DecoderOptions.maxPayloadBytes}. */
  readonly maxPayloadBytes: number;
  /** See {@link DecoderOptions.validate}. */
  readonly validate: PayloadValidator | undefined;
  /** See {@link DecoderOptions.canonicalJson}. */
  readonly canonicalJson: (value: JsonValue) => string;
  /** See {@link DecoderOptions.hashCanonicalJson}. */
  readonly hashCanonicalJson: (canonical: string) => string;
  /** See {@link DecoderOptions.generateMessageId}. */
  readonly generateMessageId: (receivedAt: Date) => string;
}

/**
 * Validates decoder options and applies their defaults.
 *
 * @param options - the options as the user wrote them
 * @returns the resolved options
 * @throws {@link InvalidOptionError} naming the first invalid option
 */
export function resolveDecoderOptions(options: DecoderOptions): ResolvedDecoderOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionError("options", "must be an object");
  }
  const maxPayloadBytes = integerOption(
    "maxPayloadBytes",
    options.maxPayloadBytes,
    DEFAULT_MAX_PAYLOAD_BYTES,
  );
  const hash = functionOption("hashCanonicalJson", options.hashCanonicalJson);
  return {
    topicPattern: parseTopicPattern(options.topic ?? DEFAULT_TOPIC_PATTERN),
    maxPayloadBytes,
    validate: functionOption("validate", options.validate),
    canonicalJson: functionOption("canonicalJson", options.canonicalJson) ?? canonicalJson,
    hashCanonicalJson: hash ?? ((canonical) => hashCanonicalJson(canonical)),
    generateMessageId: functionOption("generateMessageId", options.generateMessageId) ?? messageIdAt,
  };
}
