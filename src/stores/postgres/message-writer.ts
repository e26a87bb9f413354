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
  "(message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index, device_signature)";

/**
 * `INSERT … SELECT FROM unnest(...)` of one array per column: one statement, 8 parameters whatever
 * the row count (multi-row VALUES would hit the 65,535-parameter limit). Works with any driver
 * that speaks the {@link PgPoolClientLike} subset.
 */
const unnestWriter: MessageWriter = async (client, batchId, leaves, meanwhile) => {
  const n = leaves.length;
  const ids = new Array<string>(n);
  const devices = new Array<string>(n);
  const topics = new Array<string>(n);
  const hashes = new Array<string>(n);
  const raws = new Array<string>(n);
  const times = new Array<string>(n);
  const leafIndexes = new Array<number>(n);
  const signatures = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const { reading, leafIndex } = leaves[i]!;
    ids[i] = reading.messageId;
    devices[i] = reading.deviceId;
    topics[i] = reading.topic;
    hashes[i] = reading.messageHash;
    raws[i] = reading.canonicalJson;
    times[i] = reading.receivedAt.toISOString();
    leafIndexes[i] = leafIndex;
    signatures[i] = reading.deviceSignature ?? null;
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
      signatures,
    ]),
  );
  meanwhile?.();
  await inserted;
};

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** Escapes a value for COPY's text format (most values need nothing, and are returned as they are). */
export function copyText(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : value;
}

function copyRows(batchId: string, leaves: readonly PlannedLeaf[]): string {
  let text = "";
  for (const { reading, leafIndex } of leaves) {
    text += `${reading.messageId}\t${batchId}\t${copyText(reading.deviceId)}\t${copyText(reading.topic)}\t${
      reading.messageHash
    }\t${copyText(reading.canonicalJson)}\t${reading.receivedAt.toISOString()}\t${leafIndex}\t${
      // base58 needs no escaping; \N is COPY's NULL.
      reading.deviceSignature ?? "\\N"
    }\n`;
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

/** Below this many rows a commit's messages go in as one `INSERT … unnest` (one round trip, not two). */
const SMALL_COMMIT_ROWS = 32;

/**
 * `COPY … FROM STDIN` (text format) straight into `messages`, the default: measured 5–10 % faster
 * than {@link unnestWriter} per 1000-row flush with the full schema. A COPY takes two round trips,
 * so a commit of fewer than 32 rows (a paced stream's) uses {@link unnestWriter} instead. COPY has
 * no `ON CONFLICT`, and needs none here: a duplicate makes the unique `idx_messages_hash` refuse the
 * COPY, and the append is redone after looking duplicates up. Needs a node-postgres client
 * (pg-copy-streams).
 */
const copyWriter: MessageWriter = (client, batchId, leaves, meanwhile) =>
  leaves.length < SMALL_COMMIT_ROWS
    ? unnestWriter(client, batchId, leaves, meanwhile)
    : copyInto(client, "messages", batchId, leaves, meanwhile);

/** The writer of an {@link InsertMethod}. */
export function messageWriter(method: InsertMethod): MessageWriter {
  return method === "unnest" ? unnestWriter : copyWriter;
}

/**
 * Records the signature checks of the stored readings (`signature_verifications`), after their
 * message rows: one statement, none when no reading was checked.
 */
export async function insertSignatureVerifications(
  client: PgPoolClientLike,
  leaves: readonly PlannedLeaf[],
): Promise<void> {
  const ids: string[] = [];
  const valid: boolean[] = [];
  const keys: (string | null)[] = [];
  for (const { reading } of leaves) {
    const check = reading.signatureCheck;
    if (check === undefined) continue;
    ids.push(reading.messageId);
    valid.push(check.valid);
    // A key from a custom key source that does not fit the column is not a key anyway.
    keys.push(check.publicKey.length <= 88 ? check.publicKey : null);
  }
  if (ids.length === 0) return;
  await client.query(
    statement("insert_signature_verifications", SQL.insertSignatureVerifications, [ids, valid, keys]),
  );
}
