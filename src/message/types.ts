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
  /**
   * Identifier of the message row, assigned when the payload is decoded: a UUID version 7 carrying
   * `receivedAt` (any UUID is accepted from other sources).
   */
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
  /**
   * The payload's top-level `signature` member when it is a well-formed device signature (base58
   * of 64 bytes, see docs/hashing.md §6); `undefined` when absent or malformed. Stored in
   * `messages.device_signature`.
   */
  readonly deviceSignature?: string | undefined;
  /**
   * The outcome of checking the reading's signature against its device's key, set by the bridge's
   * signature policy before the reading is stored (a `signature_verifications` row). Absent when
   * it was not checked: the device has no key, or checks are off.
   */
  readonly signatureCheck?: SignatureCheck | undefined;
  /**
   * `true` when the transport flagged the delivery as a redelivery (MQTT DUP): a copy of it may have
   * been stored long before, and a store looks further back for it (see the Postgres store's
   * `partitions.redeliveryWindowMs`).
   */
  readonly redelivered?: boolean;
}

/** A reading's signature checked against its device's key at ingest. */
export interface SignatureCheck {
  /** `true` when the signature is the device's over the reading's signed bytes. */
  readonly valid: boolean;
  /** The key it was checked with: base58 of the 32-byte Ed25519 public key. */
  readonly publicKey: string;
}

/**
 * Stable reason codes of a {@link Rejection}. They never change meaning between versions.
 *
 * - `invalid_utf8`: the payload bytes are not valid UTF-8
 * - `invalid_json`: not parseable JSON (an empty payload included), a number beyond the range of a
 *   double (`1e400`), or more than 1000 arrays and objects nested in one another
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
 * - `decode_failed`: decoding threw (a fault of configuration, such as a custom hasher that throws);
 *   `detail` carries the error
 * - `missing_signature`: the device has a registered key and the reading carries no `signature`
 * - `bad_signature`: the device has a registered key and the reading's `signature` is malformed or
 *   is not the device's signature over the reading (docs/hashing.md §6)
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
  | "store_refused"
  | "decode_failed"
  | "missing_signature"
  | "bad_signature";

/** A payload that was refused, with its reason; recorded by the store (dead letter) and acknowledged. */
export interface Rejection {
  /** The topic it arrived on. */
  readonly topic: string;
  /**
   * The topic's device, when the topic matched the pattern. With the payload bytes it identifies a
   * redelivered copy: a store records one dead letter per device and payload.
   */
  readonly deviceId?: string;
  /** The raw payload bytes, unchanged. */
  readonly payload: Uint8Array;
  /** Stable reason code. */
  readonly reason: RejectionReason;
  /**
   * Human-readable detail (e.g. the JSON parse error, the offending field). From the decoder it
   * holds no control character, line separator or bidirectional control: any the input put there
   * is written as its `\uXXXX` escape, so it is safe to print.
   */
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
