import { messageIdTime } from "../../message/message-id.js";
import type { PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";

/** Appended to a query of `messages m` by id: only the partition of the id's millisecond, [$2, $3). */
export const IN_ID_PARTITION = " AND m.received_at >= $2 AND m.received_at < $3";

/**
 * Runs `sql` (a query of `messages m` whose `$1` is `messageId`) where the message can be. An id
 * that carries its time (UUID version 7) is looked for in that millisecond's partition first;
 * without a time, or not found there (a version 7 id made elsewhere), in every partition.
 *
 * @param name - prepared statement name (`<name>_at` for the one-partition form)
 */
export async function queryByMessageId<Row>(
  db: PgQueryable,
  name: string,
  sql: string,
  messageId: string,
): Promise<Row[]> {
  const at = messageIdTime(messageId);
  if (at !== undefined) {
    const { rows } = await db.query<Row>(
      statement(`${name}_at`, sql + IN_ID_PARTITION, [messageId, new Date(at), new Date(at + 1)]),
    );
    if (rows.length > 0) return rows;
  }
  const { rows } = await db.query<Row>(statement(name, sql, [messageId]));
  return rows;
}
