/**
 * COPY into a temporary staging table, then `INSERT … SELECT` into `messages`: the textbook way
 * around COPY's lack of `ON CONFLICT`, kept here only to compare it with the store's writers.
 */
import { finished } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import { copyText, type MessageWriter } from "../../src/stores/postgres/message-writer.js";

const COLUMNS = "(message_id, batch_id, device_id, topic, message_hash, raw_data, received_at, leaf_index)";

export const copyStagingWriter: MessageWriter = async (client, batchId, leaves, meanwhile) => {
  await client.query({
    text: `CREATE TEMP TABLE IF NOT EXISTS veep_messages_staging (
      message_id uuid, batch_id uuid, device_id text, topic text, message_hash text, raw_data text,
      received_at timestamptz, leaf_index int) ON COMMIT DELETE ROWS`,
  });
  let text = "";
  for (const { reading, leafIndex } of leaves) {
    text += `${reading.messageId}\t${batchId}\t${copyText(reading.deviceId)}\t${copyText(reading.topic)}\t${
      reading.messageHash
    }\t${copyText(reading.canonicalJson)}\t${reading.receivedAt.toISOString()}\t${leafIndex}\n`;
  }
  const submittable = copyFrom(`COPY veep_messages_staging ${COLUMNS} FROM STDIN`);
  const stream = (client as unknown as { query(s: typeof submittable): typeof submittable }).query(
    submittable,
  );
  const done = finished(stream);
  stream.write(Buffer.from(text, "utf8"), () => {
    meanwhile?.();
    stream.end();
  });
  await done;
  await client.query({
    text: `INSERT INTO messages ${COLUMNS}
      SELECT message_id, batch_id, device_id, topic, message_hash, raw_data::jsonb, received_at, leaf_index
      FROM veep_messages_staging`,
  });
};
