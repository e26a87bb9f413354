import { finished } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { PlannedLeaf } from "../store.js";
import type { InsertMethod } from "./options.js";
import type { PgPoolClientLike } from "./pg-types.js";
import { SQL, statement } from "./sql.js";

/**
 * Inserts message rows, each exactly once, already carrying their batch and leaf position.
 * `meanwhile` (optional) runs once the rows are on their way, while PostgreSQL ingests them.
 */
export type MessageWriter = (
  client: PgPoolClientLike,
  batchId: string,
  leaves: readonly PlannedLeaf[],
  meanwhile?: () => void,
) => Promise<void>;

const COPY_COLUMNS =
  "(message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)";

/**
 * `INSERT … SELECT FROM unnest(...)` of one array per column: one statement, 8 parameters whatever
 * the row count (multi-row VALUES would hit the 65,535-parameter limit). Works with any driver
 * that speaks the {@link PgPoolClientLike} subset.
 */
export const unnestWriter: MessageWriter = async (client, batchId, leaves, meanwhile) => {
  const n = leaves.length;
  const ids = new Array<string>(n);
  const devices = new Array<string>(n);
  const topics = new Array<string>(n);
  const hashes = new Array<string>(n);
  const raws = new Array<string>(n);
  const times = new Array<string>(n);
  const leafIndexes = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const { reading, leafIndex } = leaves[i]!;
    ids[i] = reading.messageId;
    devices[i] = reading.deviceId;
    topics[i] = reading.topic;
    hashes[i] = reading.messageHash;
    raws[i] = reading.canonicalJson;
    times[i] = reading.receivedAt.toISOString();
    leafIndexes[i] = leafIndex;
  }
  const inserted = client.query(
    statement("insert_messages_unnest", SQL.insertMessagesUnnest, [
      batchId,
      ids,
      devices,
      topics,
      hashes,
      raws,
      times,
      leafIndexes,
    ]),
  );
  meanwhile?.();
  await inserted;
};

/** Escapes a value for COPY's text format. */
export function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

function copyRows(batchId: string, leaves: readonly PlannedLeaf[]): string {
  let text = "";
  for (const { reading, leafIndex } of leaves) {
    text += `${reading.messageId}\t${batchId}\t${copyText(reading.deviceId)}\t${copyText(reading.topic)}\t${
      reading.messageHash
    }\t${copyText(reading.canonicalJson)}\t${reading.receivedAt.toISOString()}\t${leafIndex}\n`;
  }
  return text;
}

async function copyInto(
  client: PgPoolClientLike,
  table: string,
  batchId: string,
  leaves: readonly PlannedLeaf[],
  meanwhile?: () => void,
): Promise<void> {
  const rows = Buffer.from(copyRows(batchId, leaves), "utf8");
  const submittable = copyFrom(`COPY ${table} ${COPY_COLUMNS} FROM STDIN`);
  const stream = (client as unknown as { query(s: typeof submittable): typeof submittable }).query(
    submittable,
  );
  const done = finished(stream);
  stream.write(rows, () => {
    meanwhile?.();
    stream.end();
  });
  await done;
}

/**
 * `COPY … FROM STDIN` (text format) straight into `messages`, the default: measured 5–10 % faster
 * than {@link unnestWriter} per 1000-row flush with the full schema. COPY has no `ON CONFLICT`, and
 * needs none here: a duplicate makes the unique `idx_messages_hash` refuse the COPY, and the append
 * is redone after looking duplicates up. Needs a node-postgres client (pg-copy-streams).
 */
export const copyWriter: MessageWriter = (client, batchId, leaves, meanwhile) =>
  copyInto(client, "messages", batchId, leaves, meanwhile);

/**
 * COPY into a temporary staging table, then `INSERT … SELECT` into `messages`: the textbook way
 * around COPY's lack of `ON CONFLICT`. Kept for the benchmark that compares it with the others.
 */
export const copyStagingWriter: MessageWriter = async (client, batchId, leaves, meanwhile) => {
  await client.query({
    text: `CREATE TEMP TABLE IF NOT EXISTS veep_messages_staging (
      message_id uuid, batch_id uuid, device_id text, topic text, message_hash text, raw_data text,
      received_at timestamptz, leaf_index int) ON COMMIT DELETE ROWS`,
  });
  await copyInto(client, "veep_messages_staging", batchId, leaves, meanwhile);
  await client.query({
    text: `INSERT INTO messages ${COPY_COLUMNS}
      SELECT message_id, batch_id, device_id, topic, message_hash, raw_data::jsonb, received_at, leaf_index
      FROM veep_messages_staging`,
  });
};

/** The writer of an {@link InsertMethod}. */
export function messageWriter(method: InsertMethod): MessageWriter {
  return method === "unnest" ? unnestWriter : copyWriter;
}
