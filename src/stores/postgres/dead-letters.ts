import type { Rejection, RejectionReason } from "../../message/types.js";
import type { DeadLetterRecord } from "../store.js";
import type { PgQueryable } from "./pg-types.js";
import { SQL, statement } from "./sql.js";

/** PostgreSQL text cannot hold U+0000: keep it visible as the escape `\u0000`. */
function storableText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\\u0000") : text;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Records rejections in `dead_letters`, in order, in one statement. */
export async function insertDeadLetters(db: PgQueryable, rejections: readonly Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  await db.query(
    statement("insert_dead_letters", SQL.insertDeadLetters, [
      rejections.map((r) => storableText(r.topic)),
      rejections.map((r) => hexOf(r.payload)),
      rejections.map((r) => r.reason),
      rejections.map((r) => storableText(r.detail)),
      rejections.map((r) => r.receivedAt.toISOString()),
    ]),
  );
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
