import * as crypto from "node:crypto";
import type { JsonValue } from "../message/types.js";
import { canonicalJson } from "./canonical-json.js";
import { bytesToHex } from "./hex.js";
import { sha256Hasher } from "./sha256-hasher.js";
import type { Hasher } from "./types.js";

/**
 * The `message_hash` of a payload: lowercase hex of `hasher.digest` over the UTF-8 bytes of its
 * RFC 8785 canonical JSON. Anyone can recompute it from the stored JSON, whatever key order or
 * whitespace the stored copy has.
 *
 * @param hasher - Defaults to {@link sha256Hasher}.
 * @throws TypeError when the payload is not canonicalisable (see {@link canonicalJson}).
 * @example
 * ```ts
 * messageHash({ deviceId: "SENSOR_001", kwh: 15.7 }); // 64 lowercase hex characters
 * ```
 */
export function messageHash(payload: JsonValue, hasher: Hasher = sha256Hasher): string {
  return hashCanonicalJson(canonicalJson(payload), hasher);
}

/**
 * {@link messageHash} for a payload already in canonical form (e.g. `Reading.canonicalJson`):
 * lowercase hex of `hasher.digest` over the UTF-8 bytes of `canonical`.
 *
 * @remarks The string is hashed as given; it is not checked to be canonical.
 * @param hasher - Defaults to {@link sha256Hasher}.
 */
export function hashCanonicalJson(canonical: string, hasher: Hasher = sha256Hasher): string {
  if (hasher === sha256Hasher && oneShotHex) return oneShotHex("sha256", canonical, "hex");
  return bytesToHex(hasher.digest(canonical));
}

/** Node's one-shot `crypto.hash` (Node ≥ 20.12), which gives hex without an intermediate buffer. */
const oneShotHex = typeof crypto.hash === "function" ? crypto.hash : undefined;
