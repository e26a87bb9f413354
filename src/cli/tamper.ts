import { merkleRootHex } from "../hashing/merkle.js";
import { messageHash } from "../hashing/message-hash.js";
import type { JsonObject } from "../message/types.js";
import { storePool } from "../stores/postgres/pool.js";
import { inTransaction } from "../stores/postgres/transaction.js";

/** What {@link rewriteReadingConsistently} changed. */
export interface Rewrite {
  /** The message rewritten. */
  readonly messageId: string;
  /** Its batch. */
  readonly batchId: string;
  /** The payload before and after. */
  readonly before: JsonObject;
  /** The payload after. */
  readonly after: JsonObject;
  /** The batch root before and after. */
  readonly rootBefore: string;
  /** The recomputed batch root. */
  readonly rootAfter: string;
}

/**
 * What an insider with write access can do (the demo shows it): change one stored reading and
 * recompute its `message_hash`, the batch's leaves and `batch_hash`, so that every check inside
 * the database still passes. Only an anchor outside the database shows it.
 */
export async function rewriteReadingConsistently(
  connectionString: string,
  messageId: string,
  change: (payload: JsonObject) => JsonObject,
): Promise<Rewrite> {
  const { pool } = storePool({ connectionString });
  try {
    return await inTransaction(pool, async (db) => {
      const { rows } = await db.query<{ batch_id: string; raw_data: string; batch_hash: string }>({
        text: `SELECT m.batch_id, m.raw_data::text AS raw_data, b.batch_hash
               FROM messages m JOIN batches b USING (batch_id) WHERE m.message_id = $1 FOR UPDATE`,
        values: [messageId],
      });
      const row = rows[0];
      if (!row) throw new Error(`no message ${messageId}`);
      const before = JSON.parse(row.raw_data) as JsonObject;
      const after = change(before);
      await db.query({
        text: "UPDATE messages SET raw_data = $2::jsonb, message_hash = $3 WHERE message_id = $1",
        values: [messageId, JSON.stringify(after), messageHash(after)],
      });
      const leaves = await db.query<{ message_hash: string }>({
        text: "SELECT message_hash FROM messages WHERE batch_id = $1 ORDER BY leaf_index",
        values: [row.batch_id],
      });
      const rootAfter = merkleRootHex(leaves.rows.map((leaf) => leaf.message_hash));
      await db.query({
        text: "UPDATE batches SET batch_hash = $2 WHERE batch_id = $1",
        values: [row.batch_id, rootAfter],
      });
      return { messageId, batchId: row.batch_id, before, after, rootBefore: row.batch_hash, rootAfter };
    });
  } finally {
    await pool.end();
  }
}
