import type { KeyObject } from "node:crypto";
import type { JsonObject } from "../../message/types.js";
import {
  devicePublicKey,
  SIGNATURE_MEMBER,
  signedBytes,
  verifySignedBytes,
} from "../../signing/device-signature.js";

/**
 * SQL joining a message `m` to its latest signature check `v` (`v.is_valid`, `v.public_key`; both
 * null without one). A check is written in the append that stores the message, so it is searched
 * from a day before `m.received_at` on, which keeps the look-up in the partitions of its time.
 */
export const LATEST_SIGNATURE_CHECK = `LEFT JOIN LATERAL (
  SELECT sv.is_valid, sv.public_key FROM signature_verifications sv
  WHERE sv.message_id = m.message_id AND sv.verified_at >= m.received_at - INTERVAL '1 day'
  ORDER BY sv.verified_at DESC LIMIT 1
) v ON true`;

/** Device keys met during one verification, as key objects (`null`: not a valid key). */
export type KeyCache = Map<string, KeyObject | null>;

function keyObject(keys: KeyCache, publicKey: string): KeyObject | null {
  let key = keys.get(publicKey);
  if (key === undefined) {
    try {
      key = devicePublicKey(publicKey);
    } catch {
      key = null;
    }
    keys.set(publicKey, key);
  }
  return key;
}

/** A stored message's signature columns, as the verification queries read them. */
export interface StoredSignatureRow {
  readonly raw_data: string | null;
  readonly device_signature: string | null;
  /** Of the message's latest `signature_verifications` row; `null` without one. */
  readonly is_valid: boolean | null;
  readonly public_key: string | null;
}

/**
 * Why a stored signature does not check out, or `undefined` when it does: `device_signature` must
 * be raw_data's `signature` member, and a message recorded as validly signed must verify, from
 * raw_data, with the key it was checked with.
 */
export function storedSignatureProblem(row: StoredSignatureRow, keys: KeyCache): string | undefined {
  let payload: JsonObject;
  try {
    payload = JSON.parse(row.raw_data ?? "") as JsonObject;
  } catch {
    return "raw_data is not JSON";
  }
  const member = Object.hasOwn(payload, SIGNATURE_MEMBER) ? payload[SIGNATURE_MEMBER] : undefined;
  if (row.device_signature !== null && member !== row.device_signature) {
    return `device_signature ${row.device_signature} is not the signature member of raw_data`;
  }
  if (row.is_valid !== true) return undefined;
  if (typeof member !== "string") return "recorded as validly signed, but raw_data has no signature";
  const key = row.public_key === null ? null : keyObject(keys, row.public_key);
  if (key === null) return `recorded as validly signed with ${String(row.public_key)}, which is not a key`;
  let bytes: Buffer;
  try {
    bytes = signedBytes(payload);
  } catch {
    return "raw_data cannot be canonicalised";
  }
  if (!verifySignedBytes(bytes, member, key)) {
    return `recorded as validly signed, but the signature does not verify with key ${row.public_key}`;
  }
  return undefined;
}
