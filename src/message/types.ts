/** A JSON value as produced by `JSON.parse`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A JSON object (the only payload shape veep-bridge stores). */
export interface JsonObject {
  [key: string]: JsonValue;
}

/**
 * A payload that decoded into a valid reading: everything the store writes, computed once.
 */
export interface Reading {
  /** Identifier of the message row, assigned when the payload is decoded (UUID v4). */
  readonly messageId: string;
  /** The full MQTT topic the payload arrived on. */
  readonly topic: string;
  /** Tenant segment of the topic (`{tenant}`). */
  readonly tenantId: string;
  /** Site segment of the topic (`{site}`). */
  readonly siteId: string;
  /** Device segment of the topic (`{device}`). */
  readonly deviceId: string;
  /** The parsed payload. */
  readonly payload: JsonObject;
  /** RFC 8785 canonical JSON of {@link Reading.payload}: the bytes that {@link Reading.messageHash} hashes. */
  readonly canonicalJson: string;
  /** Lowercase hex SHA-256 (or the configured hasher) of {@link Reading.canonicalJson}. */
  readonly messageHash: string;
  /** When the source received the payload. */
  readonly receivedAt: Date;
  /** `payload.metadata.firmware_version` when it is a string, otherwise `undefined`. */
  readonly firmwareVersion: string | undefined;
  /** Size of the raw payload in bytes. */
  readonly byteLength: number;
  /** The payload bytes as received (kept so that a row the store refuses is dead-lettered unchanged). */
  readonly rawPayload: Uint8Array;
}

/**
 * Stable reason codes of a {@link Rejection}. They never change meaning between versions.
 *
 * - `invalid_utf8`: the payload bytes are not valid UTF-8
 * - `invalid_json`: not parseable JSON (an empty payload included)
 * - `not_an_object`: valid JSON but not an object (array, number, string, …)
 * - `unsafe_integer`: an integer literal outside ±(2^53−1) in the source text (it would lose precision)
 * - `nul_character`: a string or key contains U+0000 (PostgreSQL JSONB refuses it)
 * - `lone_surrogate`: a string or key contains an unpaired UTF-16 surrogate
 * - `too_large`: the payload exceeds `maxPayloadBytes`
 * - `topic_mismatch`: the topic does not match the topic pattern
 * - `device_mismatch`: the payload's `deviceId` differs from the topic's device
 * - `field_too_long`: device, tenant, site or topic is longer than its database column
 * - `validation_failed`: the user's validator refused the payload
 * - `store_refused`: the store refused the row (e.g. a PostgreSQL error); `detail` names the SQLSTATE
 */
export type RejectionReason =
  | "invalid_utf8"
  | "invalid_json"
  | "not_an_object"
  | "unsafe_integer"
  | "nul_character"
  | "lone_surrogate"
  | "too_large"
  | "topic_mismatch"
  | "device_mismatch"
  | "field_too_long"
  | "validation_failed"
  | "store_refused";

/** A payload that was refused, with its reason; recorded by the store (dead letter) and acknowledged. */
export interface Rejection {
  /** The topic it arrived on. */
  readonly topic: string;
  /** The raw payload bytes, unchanged. */
  readonly payload: Uint8Array;
  /** Stable reason code. */
  readonly reason: RejectionReason;
  /** Human-readable detail (e.g. the JSON parse error, the offending field). */
  readonly detail: string;
  /** When the source received the payload. */
  readonly receivedAt: Date;
}

/** Result of decoding one payload: exactly one of a reading or a rejection. */
export type DecodeResult =
  | {
      /** The payload was accepted. */
      readonly ok: true;
      /** The decoded reading. */
      readonly reading: Reading;
    }
  | {
      /** The payload was refused. */
      readonly ok: false;
      /** Why, with the raw bytes. */
      readonly rejection: Rejection;
    };
