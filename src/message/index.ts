export type { DecodeInput, Decoder } from "./decode.js";
export { createDecoder } from "./decode.js";
export type { DecoderOptions, PayloadValidator, ValidationContext } from "./decoder-options.js";
export { DEFAULT_MAX_PAYLOAD_BYTES } from "./decoder-options.js";
export type { TopicMatch, TopicPattern } from "./topic-pattern.js";
export { DEFAULT_TOPIC_PATTERN, parseTopicPattern } from "./topic-pattern.js";
export type {
  DecodeResult,
  JsonObject,
  JsonValue,
  Reading,
  Rejection,
  RejectionReason,
  SignatureCheck,
} from "./types.js";
