/**
 * Retention: sealed batches written to archive files (one JSON file per batch: every message with its
 * leaf index, hash and raw_data, and a manifest with the root, count and anchor), then the message
 * partitions whose batches are all archived dropped whole. Batch rows stay.
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { StoreError } from "../../errors.js";
import { getAnchor } from "./anchoring.js";
import type { PgPoolLike, PgQueryable } from "./pg-types.js";
import { statement } from "./sql.js";
import { inTransaction } from "./transaction.js";

/** The format name written into every archive file. */
export const ARCHIVE_FORMAT = "veep-bridge-archive/1";

/** One message of an archive file. */
export interface ArchivedMessage {
  /** Position in the batch's Merkle tree. */
  readonly leafIndex: number;
  /** `messages.message_id`. */
  readonly messageId: string;
  /** Device. */
  readonly deviceId: string;
  /** MQTT topic. */
  readonly topic: string;
  /** `messages.message_hash` (hex SHA-256 of the RFC 8785 canonical JSON of `rawData`). */
  readonly messageHash: string;
  /** `messages.raw_data` as PostgreSQL prints it (JSON text). */
  readonly rawData: string;
  /** `messages.received_at` (ISO 8601). */
  readonly receivedAt: string;
  /** `messages.device_signature`, if the reading was signed. */
  readonly deviceSignature: string | null;
}

/** Where an anchored batch's root sits in an aggregate anchor (one memo for several batches). */
export interface ArchivedAggregation {
  /** Position of the batch's root among the aggregated roots. */
  readonly leafIndex: number;
  /** Number of roots in the aggregate. */
  readonly treeSize: number;
  /** RFC 9162 audit path (hex) from the batch's root to the anchored aggregate root. */
  readonly auditPath: readonly string[];
}

/** The anchor of an archived batch, as recorded when it was archived. */
export interface ArchivedAnchor {
  /** Anchor status (for example `confirmed` or `finalized`). */
  readonly status: string;
  /** Transaction signature of the memo that carries the root. */
  readonly signature: string;
  /** Slot of that transaction, when known. */
  readonly slot: number | null;
  /** The memo text as sent. */
  readonly memo: string;
  /** Set when the batch was anchored as part of an aggregate. */
  readonly aggregation: ArchivedAggregation | null;
}

/** The batch row of an archive file: what its messages must reproduce. */
export interface ArchiveManifest {
  /** `batches.batch_id`. */
  readonly batchId: string;
  /** `batches.batch_hash`: the Merkle root (hex) of the messages in leaf order. */
  readonly batchHash: string;
  /** `batches.message_count`. */
  readonly messageCount: number;
  /** `batches.start_timestamp` (ISO 8601). */
  readonly startTimestamp: string;
  /** `batches.end_timestamp` (ISO 8601). */
  readonly endTimestamp: string;
  /** `batches.status` when archived. */
  readonly status: string;
  /** When the file was written (ISO 8601). */
  readonly archivedAt: string;
  /** The batch's anchor (signature, slot, memo, and its path in an aggregate), if any. */
  readonly anchor: ArchivedAnchor | null;
}

/** The contents of one archive file. */
export interface ArchiveFile {
  /** {@link ARCHIVE_FORMAT}. */
  readonly format: string;
  /** The batch as stored: its root and count are what the messages must give. */
  readonly manifest: ArchiveManifest;
  /** Every message, in leaf order. */
  readonly messages: readonly ArchivedMessage[];
}

/** Options of `PostgresStore.archive`. */
export interface ArchiveOptions {
  /** Archive sealed batches whose last reading was received before this. */
  readonly before: Date;
  /** Folder of the archive files (created if missing). */
  readonly directory: string;
  /** Most batches archived by this call. @defaultValue no limit */
  readonly limit?: number;
  /** Called after each batch's file is written and recorded. */
  readonly onBatch?: (batch: ArchivedBatch) => void;
}

/** One archived batch. */
export interface ArchivedBatch {
  /** The batch. */
  readonly batchId: string;
  /** Its messages. */
  readonly messageCount: number;
  /** The file, relative to the archive folder (`<batchId>.json`). */
  readonly file: string;
}

const SQL = {
  due: `SELECT batch_id, batch_hash, message_count, start_timestamp::text AS start_text,
  end_timestamp::text AS end_text, status
FROM batches
WHERE status IN ('complete', 'blockchain_pending', 'blockchain_confirmed') AND archived_at IS NULL
  AND end_timestamp < $1
ORDER BY end_timestamp ASC, batch_id ASC
LIMIT $2`,
  messages: `SELECT m.leaf_index, m.message_id, m.device_id, m.topic, m.message_hash, m.raw_data::text AS raw_data,
  to_char(m.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at, m.device_signature
FROM batches b JOIN messages m ON m.batch_id = b.batch_id
  AND m.received_at >= b.start_timestamp AND m.received_at <= b.end_timestamp
WHERE b.batch_id = $1
ORDER BY m.leaf_index ASC`,
  record: `UPDATE batches SET archived_at = $2, archive_file = $3 WHERE batch_id = $1 AND archived_at IS NULL`,
  partitions: `SELECT name, lower_bound, upper_bound FROM veep_message_partitions
WHERE upper_bound <= $1 ORDER BY lower_bound ASC`,
  unarchived: `SELECT count(*)::int AS n FROM batches WHERE batch_id = ANY($1::uuid[]) AND archived_at IS NULL`,
  /** 1 when table $1 is a partition of $2 (not detached yet). */
  attached: `SELECT count(*)::int AS n FROM pg_inherits
WHERE inhrelid = to_regclass($1) AND inhparent = to_regclass($2)`,
  forget: `DELETE FROM veep_message_partitions WHERE name = $1`,
  pruned: `UPDATE batches SET pruned_at = NOW() WHERE batch_id = ANY($1::uuid[]) AND pruned_at IS NULL`,
} as const;

interface DueRow {
  batch_id: string;
  batch_hash: string;
  message_count: number;
  start_text: string;
  end_text: string;
  status: string;
}

interface MessageRow {
  leaf_index: number;
  message_id: string;
  device_id: string;
  topic: string;
  message_hash: string;
  raw_data: string;
  received_at: string;
  device_signature: string | null;
}

/** Writes `text` to `path` through a temporary file, flushed to disk before it is renamed. */
async function writeDurably(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  const handle = await open(temporary, "wx");
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function archiveOne(db: PgQueryable, batch: DueRow, directory: string): Promise<ArchivedBatch> {
  const { rows } = await db.query<MessageRow>(statement("archive_messages", SQL.messages, [batch.batch_id]));
  if (rows.length !== batch.message_count)
    throw new StoreError(
      `batch ${batch.batch_id} has ${rows.length} messages in the database, its row says ${batch.message_count}: ` +
        "not archived (run veep-bridge verify --batch on it)",
    );
  const anchor = await getAnchor(db, batch.batch_id);
  const archivedAt = new Date();
  const content: ArchiveFile = {
    format: ARCHIVE_FORMAT,
    manifest: {
      batchId: batch.batch_id,
      batchHash: batch.batch_hash,
      messageCount: batch.message_count,
      startTimestamp: batch.start_text,
      endTimestamp: batch.end_text,
      status: batch.status,
      archivedAt: archivedAt.toISOString(),
      anchor: anchor && {
        status: anchor.status,
        signature: anchor.signature,
        slot: anchor.slot,
        memo: anchor.memo,
        aggregation: anchor.aggregation,
      },
    },
    messages: rows.map((row) => ({
      leafIndex: row.leaf_index,
      messageId: row.message_id,
      deviceId: row.device_id,
      topic: row.topic,
      messageHash: row.message_hash,
      rawData: row.raw_data,
      receivedAt: row.received_at,
      deviceSignature: row.device_signature,
    })),
  };
  const file = `${batch.batch_id}.json`;
  await writeDurably(join(directory, file), `${JSON.stringify(content, null, 1)}\n`);
  await db.query(statement("archive_record", SQL.record, [batch.batch_id, archivedAt, file]));
  return { batchId: batch.batch_id, messageCount: batch.message_count, file };
}

/**
 * Writes each sealed batch whose last reading came before `options.before` and that is not archived
 * yet to `<directory>/<batchId>.json` (flushed to disk, then renamed into place), and records it in
 * `batches.archived_at` and `archive_file`, oldest first.
 */
export async function archiveBatches(db: PgQueryable, options: ArchiveOptions): Promise<ArchivedBatch[]> {
  await mkdir(options.directory, { recursive: true });
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  const archived: ArchivedBatch[] = [];
  while (archived.length < limit) {
    const { rows } = await db.query<DueRow>(
      statement("archive_due", SQL.due, [options.before, Math.min(100, limit - archived.length)]),
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      const done = await archiveOne(db, row, options.directory);
      archived.push(done);
      options.onBatch?.(done);
    }
  }
  return archived;
}

/** Options of `PostgresStore.prune`. */
export interface PruneOptions {
  /** Drop the partitions that hold only readings received before this. */
  readonly before: Date;
  /** Drop partitions holding batches that are not archived too (their messages are lost). @defaultValue false */
  readonly force?: boolean;
  /** Called after each partition is dropped. */
  readonly onPartition?: (partition: PrunedPartition) => void;
}

/** One dropped partition. */
export interface PrunedPartition {
  /** `messages_pYYYYMMDD`. */
  readonly name: string;
  /** Its range: readings received from `from`, before `to`. */
  readonly from: Date;
  /** End of its range (exclusive). */
  readonly to: Date;
  /** Messages it held. */
  readonly messages: number;
  /** Batches that had messages in it (now `pruned_at`). */
  readonly batches: number;
}

/** A prune that would drop messages of batches that are not archived. */
export class PruneRefusedError extends StoreError {
  /** The partition it stopped at. */
  readonly partition: string;
  /** Batches of it not archived. */
  readonly unarchived: number;

  /** @param partition - the partition @param unarchived - its batches not archived */
  constructor(partition: string, unarchived: number) {
    super(
      `${partition} holds messages of ${unarchived} batch(es) not archived: archive them first ` +
        "(veep-bridge archive), or prune with --force to drop them anyway",
    );
    this.name = "PruneRefusedError";
    this.partition = partition;
    this.unarchived = unarchived;
  }
}

/**
 * Drops, oldest first, the message partitions (and the signature-check partitions of the same
 * range) that end before `options.before`, after checking that every batch with messages in it is
 * archived (unless `force`): each is detached with `DETACH PARTITION … CONCURRENTLY` (which does not
 * block ingest), then dropped in a short transaction that also forgets it and marks its batches
 * `pruned_at`; the batches keep their rows. Never deletes row by row. A run interrupted between the
 * two steps is finished by the next one.
 * @throws {@link PruneRefusedError} at the first partition holding a batch not archived (those before it are dropped)
 */
export async function prunePartitions(pool: PgPoolLike, options: PruneOptions): Promise<PrunedPartition[]> {
  const { rows } = await pool.query<{ name: string; lower_bound: Date; upper_bound: Date }>(
    statement("prune_partitions", SQL.partitions, [options.before]),
  );
  const pruned: PrunedPartition[] = [];
  for (const row of rows) {
    if (!/^messages_p\d{8}(\d{2})?$/.test(row.name)) continue;
    const signatures = row.name.replace(/^messages_/, "signature_verifications_");
    const { rows: held } = await pool.query<{ batch_id: string; n: number }>({
      text: `SELECT batch_id, count(*)::int AS n FROM ${row.name} GROUP BY batch_id`,
    });
    const batchIds = held.map((h) => h.batch_id).filter((id) => id !== null);
    const { rows: missing } = await pool.query<{ n: number }>(
      statement("prune_unarchived", SQL.unarchived, [batchIds]),
    );
    if ((missing[0]?.n ?? 0) > 0 && options.force !== true)
      throw new PruneRefusedError(row.name, missing[0]!.n);
    // Detached first without blocking ingest (no ACCESS EXCLUSIVE lock on the parent), then dropped.
    for (const [parent, part] of [
      ["messages", row.name],
      ["signature_verifications", signatures],
    ] as const) {
      const { rows: attached } = await pool.query<{ n: number }>(
        statement("prune_attached", SQL.attached, [part, parent]),
      );
      if ((attached[0]?.n ?? 0) > 0)
        await pool.query({ text: `ALTER TABLE ${parent} DETACH PARTITION ${part} CONCURRENTLY` });
    }
    const done = await inTransaction(pool, async (client) => {
      await client.query({ text: `DROP TABLE IF EXISTS ${row.name}` });
      await client.query({ text: `DROP TABLE IF EXISTS ${signatures}` });
      await client.query(statement("prune_forget", SQL.forget, [row.name]));
      await client.query(statement("prune_mark", SQL.pruned, [batchIds]));
      return {
        name: row.name,
        from: row.lower_bound,
        to: row.upper_bound,
        messages: held.reduce((n, h) => n + h.n, 0),
        batches: batchIds.length,
      };
    });
    pruned.push(done);
    options.onPartition?.(done);
  }
  return pruned;
}
