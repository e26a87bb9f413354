import type { Rejection, RejectionReason } from "../../message/types.js";
import { payloadHash } from "../duplicate-key.js";
import type { DeadLetterRecord } from "../store.js";
import type { PgQueryable } from "./pg-types.js";
import { SQL, statement } from "./sql.js";

/** U+0000 and UTF-16 surrogates that are not half of a pair. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what PostgreSQL text cannot hold
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * PostgreSQL text cannot hold U+0000, and the driver would silently turn a lone surrogate into
 * U+FFFD: keep each visible as its JSON escape (`\u0000`, `\ud800`).
 */
function storableText(text: string): string {
  return text.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Records rejections in `dead_letters`, in order, in one statement; a payload already recorded for
 * the same device (or topic) is skipped (migration 008).
 * @returns the rejections skipped that way
 */
export async function insertDeadLetters(
  db: PgQueryable,
  rejections: readonly Rejection[],
): Promise<Rejection[]> {
  if (rejections.length === 0) return [];
  const { rows } = await db.query<{ payload_hash: string; device_id: string | null; topic: string }>(
    statement("insert_dead_letters", SQL.insertDeadLetters, [
      rejections.map((r) => storableText(r.topic)),
      rejections.map((r) => (r.deviceId === undefined ? null : storableText(r.deviceId))),
      rejections.map((r) => hexOf(r.payload)),
      rejections.map((r) => r.reason),
      rejections.map((r) => storableText(r.detail)),
      rejections.map((r) => r.receivedAt.toISOString()),
    ]),
  );
  const origin = (deviceId: string | null, topic: string) =>
    deviceId === null ? `topic:${topic}` : `device:${deviceId}`;
  const recorded = new Set(rows.map((row) => `${row.payload_hash}|${origin(row.device_id, row.topic)}`));
  return rejections.filter((r) => {
    const deviceId = r.deviceId === undefined ? null : storableText(r.deviceId);
    return !recorded.delete(`${payloadHash(r.payload)}|${origin(deviceId, storableText(r.topic))}`);
  });
}

interface DeadLetterRow {
  id: string;
  topic: string;
  payload_hex: string;
  reason: string;
  detail: string;
  received_at: Date;
}

/** The most recent dead letters first. */
export async function listDeadLetters(db: PgQueryable, limit: number): Promise<DeadLetterRecord[]> {
  const { rows } = await db.query<DeadLetterRow>(statement("list_dead_letters", SQL.deadLetters, [limit]));
  return rows.map((row) => ({
    id: row.id,
    topic: row.topic,
    payload: new Uint8Array(Buffer.from(row.payload_hex, "hex")),
    reason: row.reason as RejectionReason,
    detail: row.detail,
    receivedAt: row.received_at,
  }));
}
