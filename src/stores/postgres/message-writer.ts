import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { BatchAppendPlan } from "../store.js";
import type { InsertMethod } from "./options.js";
import type { PgPoolClientLike } from "./pg-types.js";
import { SQL, statement } from "./sql.js";

/** Inserts the message rows of a plan, each exactly once, already carrying batch and leaf position. */
export type MessageWriter = (client: PgPoolClientLike, plan: BatchAppendPlan) => Promise<void>;

const COPY_COLUMNS =
  "(message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)";

/** `unnest` of one array per column: one statement, 8 parameters whatever the row count. */
export const unnestWriter: MessageWriter = async (client, plan) => {
  const n = plan.leaves.length;
  const ids = new Array<string>(n);
  const devices = new Array<string>(n);
  const topics = new Array<string>(n);
  const hashes = new Array<string>(n);
  const raws = new Array<string>(n);
  const times = new Array<string>(n);
  const leafIndexes = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const { reading, leafIndex } = plan.leaves[i]!;
    ids[i] = reading.messageId;
    devices[i] = reading.deviceId;
    topics[i] = reading.topic;
    hashes[i] = reading.messageHash;
    raws[i] = reading.canonicalJson;
    times[i] = reading.receivedAt.toISOString();
    leafIndexes[i] = leafIndex;
  }
  await client.query(
    statement("insert_messages_unnest", SQL.insertMessagesUnnest, [
      plan.batchId,
      ids,
      devices,
      topics,
      hashes,
      raws,
      times,
      leafIndexes,
    ]),
  );
};

/** Escapes a value for COPY's text format. */
export function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

function copyRows(plan: BatchAppendPlan): string {
  let text = "";
  for (const { reading, leafIndex } of plan.leaves) {
    text += `${reading.messageId}\t${plan.batchId}\t${copyText(reading.deviceId)}\t${copyText(reading.topic)}\t${
      reading.messageHash
    }\t${copyText(reading.canonicalJson)}\t${reading.receivedAt.toISOString()}\t${leafIndex}\n`;
  }
  return text;
}

async function copyInto(client: PgPoolClientLike, table: string, plan: BatchAppendPlan): Promise<void> {
  const submittable = copyFrom(`COPY ${table} ${COPY_COLUMNS} FROM STDIN`);
  const stream = (client as unknown as { query(s: typeof submittable): typeof submittable }).query(
    submittable,
  );
  await pipeline(Readable.from([Buffer.from(copyRows(plan), "utf8")]), stream);
}

/**
 * `COPY … FROM STDIN` straight into `messages` (de-duplication is done before, by a SELECT on
 * the unique `idx_messages_hash`, so COPY's lack of `ON CONFLICT` does not matter; a concurrent
 * duplicate fails the COPY and the append is retried). Needs a real `pg` client (pg-copy-streams).
 */
export const copyWriter: MessageWriter = (client, plan) => copyInto(client, "messages", plan);

/**
 * COPY into a temporary staging table, then `INSERT … SELECT` into `messages`: the textbook way
 * around COPY's lack of `ON CONFLICT`. Kept for the benchmark that compares it with the others.
 */
export const copyStagingWriter: MessageWriter = async (client, plan) => {
  await client.query({
    text: `CREATE TEMP TABLE IF NOT EXISTS veep_messages_staging (
      message_id uuid, batch_id uuid, device_id text, topic text, message_hash text, raw_data text,
      received_at timestamptz, leaf_index int) ON COMMIT DELETE ROWS`,
  });
  await copyInto(client, "veep_messages_staging", plan);
  await client.query({
    text: `INSERT INTO messages ${COPY_COLUMNS}
      SELECT message_id, batch_id, device_id, topic, message_hash, raw_data::jsonb, received_at, leaf_index
      FROM veep_messages_staging`,
  });
};

/** The writer of an {@link InsertMethod}. */
export function messageWriter(method: InsertMethod): MessageWriter {
  return method === "copy" ? copyWriter : unnestWriter;
}
