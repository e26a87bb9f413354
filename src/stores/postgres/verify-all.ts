import { IncrementalMerkleTree } from "../../hashing/index.js";
import type { Hasher } from "../../hashing/types.js";
import type { BatchStatus } from "../store.js";
import type { PgPoolLike, PgQueryResult } from "./pg-types.js";
import { rehash, type VerificationFailureReason } from "./proofs.js";
import { type KeyCache, LATEST_SIGNATURE_CHECK, storedSignatureProblem } from "./stored-signature.js";
import { checkOut } from "./transaction.js";
import { storeTypes } from "./type-parsers.js";

/** The first problem found in a batch. */
export interface VerificationFailure {
  /** The batch. */
  readonly batchId: string;
  /** The message concerned, when the problem is one message (`null` for a batch-level problem). */
  readonly messageId: string | null;
  /** What failed. */
  readonly reason: Exclude<VerificationFailureReason, "message_not_found" | "proof_invalid">;
  /** Human-readable explanation with the stored and recomputed values. */
  readonly detail: string;
}

/** Verification of one batch. */
export interface BatchVerification {
  /** The batch. */
  readonly batchId: string;
  /** Its status. */
  readonly status: BatchStatus;
  /** `true` when every message hash, the leaf positions, the count and the root check out. */
  readonly ok: boolean;
  /** `message_count` as stored. */
  readonly messageCount: number;
  /** Messages found in the batch. */
  readonly leafCount: number;
  /** `batch_hash` as stored. */
  readonly storedRoot: string;
  /** Root recomputed from the stored message hashes in leaf order. */
  readonly recomputedRoot: string;
  /** The first problem found, or `null`. */
  readonly failure: VerificationFailure | null;
  /**
   * When its messages were pruned (after archiving): nothing is left to check in the database, and
   * the batch is not counted as failing; `veep-bridge verify --archive` checks its file.
   */
  readonly prunedAt: Date | null;
  /** The name of its archive file, if it was archived. */
  readonly archiveFile: string | null;
  /** Signatures checked again: messages recorded as validly signed at ingest. */
  readonly signaturesChecked: number;
  /**
   * Messages stored although their signature was missing or bad (`signature_verifications.is_valid`
   * false, the bridge's `onInvalid: "store"`): not a failure, but worth a look.
   */
  readonly signaturesFlagged: number;
}

/** Progress of a whole-database verification. */
export interface VerificationProgress {
  /** Batches finished. */
  readonly batches: number;
  /** Messages checked. */
  readonly messages: number;
}

/** Options of whole-database verification. */
export interface VerifyOptions {
  /** Verify only this batch (a UUID). @defaultValue every batch */
  readonly batchId?: string;
  /** Rows per `FETCH` from the server-side cursor. @defaultValue `1000` */
  readonly fetchSize?: number;
  /** Called after every fetch. */
  readonly onProgress?: (progress: VerificationProgress) => void;
}

/** Summary of a whole-database verification. */
export interface VerificationReport {
  /** `true` when every batch verified. */
  readonly ok: boolean;
  /** Batches verified. */
  readonly batches: number;
  /** Messages verified. */
  readonly messages: number;
  /** Batches that failed. */
  readonly failedBatches: number;
  /** Batches whose messages were pruned after archiving (their rows kept; not checked here). */
  readonly prunedBatches: number;
  /** The first failing batch and message, in batch id order. */
  readonly firstFailure: VerificationFailure | null;
  /** Signatures checked again (see {@link BatchVerification.signaturesChecked}). */
  readonly signaturesChecked: number;
  /** Messages stored with a missing or bad signature (see {@link BatchVerification.signaturesFlagged}). */
  readonly signaturesFlagged: number;
}

interface VerifyRow {
  batch_id: string;
  batch_hash: string;
  message_count: number;
  status: string;
  pruned_at: Date | null;
  archive_file: string | null;
  message_id: string | null;
  leaf_index: number | null;
  message_hash: string | null;
  raw_data: string | null;
  device_signature: string | null;
  is_valid: boolean | null;
  public_key: string | null;
}

const CURSOR_SELECT = `DECLARE veep_verify NO SCROLL CURSOR FOR
SELECT b.batch_id, b.batch_hash, b.message_count, b.status, b.pruned_at, b.archive_file,
       m.message_id, m.leaf_index, m.message_hash, m.raw_data::text AS raw_data,
       m.device_signature, v.is_valid, v.public_key
FROM batches b LEFT JOIN messages m ON m.batch_id = b.batch_id AND b.pruned_at IS NULL
${LATEST_SIGNATURE_CHECK}`;

const CURSOR_QUERY = `${CURSOR_SELECT}
ORDER BY b.batch_id, m.leaf_index`;

const ONE_BATCH_CURSOR_QUERY = `${CURSOR_SELECT}
WHERE b.batch_id = $1::uuid
ORDER BY m.leaf_index`;

class BatchCheck {
  readonly #tree: IncrementalMerkleTree;
  #leaves = 0;
  #failure: VerificationFailure | null = null;
  #signaturesChecked = 0;
  #signaturesFlagged = 0;

  constructor(
    readonly row: VerifyRow,
    readonly hasher: Hasher,
    readonly keys: KeyCache,
  ) {
    this.#tree = new IncrementalMerkleTree(hasher);
  }

  #fail(reason: VerificationFailure["reason"], messageId: string | null, detail: string): void {
    this.#failure ??= { batchId: this.row.batch_id, messageId, reason, detail };
  }

  add(row: VerifyRow): void {
    if (row.message_id === null || row.message_hash === null || row.raw_data === null) return;
    if (row.leaf_index !== this.#leaves) {
      this.#fail(
        "leaf_positions_invalid",
        row.message_id,
        `expected leaf ${this.#leaves}, found ${row.leaf_index}`,
      );
    }
    const recomputed = rehash(row.raw_data, this.hasher);
    if (recomputed !== row.message_hash) {
      this.#fail(
        "message_hash_mismatch",
        row.message_id,
        `raw_data hashes to ${recomputed ?? "(not canonicalisable)"}, message_hash is ${row.message_hash}`,
      );
    }
    if (row.device_signature !== null || row.is_valid !== null) {
      if (row.is_valid === true) this.#signaturesChecked += 1;
      if (row.is_valid === false) this.#signaturesFlagged += 1;
      const problem = storedSignatureProblem(row, this.keys);
      if (problem !== undefined) this.#fail("signature_invalid", row.message_id, problem);
    }
    try {
      this.#tree.appendMessageHash(row.message_hash);
    } catch {
      this.#fail(
        "message_hash_mismatch",
        row.message_id,
        `message_hash ${row.message_hash} is not a valid digest`,
      );
    }
    this.#leaves += 1;
  }

  finish(): BatchVerification {
    const { row } = this;
    const recomputedRoot = this.#tree.rootHex();
    const pruned = row.pruned_at !== null;
    if (!pruned && this.#leaves !== row.message_count) {
      this.#fail(
        "leaf_positions_invalid",
        null,
        `message_count is ${row.message_count}, ${this.#leaves} messages found`,
      );
    }
    if (!pruned && recomputedRoot !== row.batch_hash) {
      this.#fail(
        "batch_root_mismatch",
        null,
        `batch_hash is ${row.batch_hash}, leaves give ${recomputedRoot}`,
      );
    }
    return {
      batchId: row.batch_id,
      status: row.status as BatchStatus,
      ok: this.#failure === null,
      messageCount: row.message_count,
      leafCount: this.#leaves,
      storedRoot: row.batch_hash,
      recomputedRoot,
      failure: this.#failure,
      prunedAt: row.pruned_at,
      archiveFile: row.archive_file,
      signaturesChecked: this.#signaturesChecked,
      signaturesFlagged: this.#signaturesFlagged,
    };
  }
}

/**
 * Streams every batch of the database through a server-side cursor (`DECLARE … CURSOR`, `FETCH n`)
 * in one REPEATABLE READ, READ ONLY transaction (a consistent snapshot), recomputing every message
 * hash from `raw_data` and every batch root from the stored leaves. Client memory stays O(fetch
 * size); for a cursor PostgreSQL plans a fast-start walk (batches by primary key, each batch's
 * messages by index, an incremental sort per batch), so nothing is sorted as a whole. The next
 * FETCH is in flight while the current rows are hashed. Breaking out of the loop ends the
 * transaction and releases the connection.
 */
export async function* verifyBatches(
  pool: PgPoolLike,
  hasher: Hasher,
  options: VerifyOptions = {},
): AsyncGenerator<BatchVerification, void, undefined> {
  const fetchSize = options.fetchSize ?? 1000;
  const { client, release } = await checkOut(pool);
  let finished = false;
  let broken: Error | undefined;
  let next: Promise<PgQueryResult<VerifyRow>> | null = null;
  try {
    await client.query({ text: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" });
    await client.query(
      options.batchId === undefined
        ? { text: CURSOR_QUERY }
        : { text: ONE_BATCH_CURSOR_QUERY, values: [options.batchId] },
    );
    let current: BatchCheck | null = null;
    const keys: KeyCache = new Map();
    const progress = { batches: 0, messages: 0 };
    const fetch = (): Promise<PgQueryResult<VerifyRow>> => {
      const pending = client.query<VerifyRow>({
        text: `FETCH ${fetchSize} FROM veep_verify`,
        types: storeTypes,
      });
      // Awaited later (or in finally); this keeps a failure while the consumer is paused from going unhandled.
      pending.catch(() => undefined);
      return pending;
    };
    next = fetch();
    while (next) {
      const { rows }: PgQueryResult<VerifyRow> = await next;
      // Ask for the next rows before checking these, so the server works while we hash.
      next = rows.length === fetchSize ? fetch() : null;
      for (const row of rows) {
        if (current !== null && current.row.batch_id !== row.batch_id) {
          progress.batches += 1;
          yield current.finish();
          current = null;
        }
        current ??= new BatchCheck(row, hasher, keys);
        current.add(row);
        if (row.message_id !== null) progress.messages += 1;
      }
      options.onProgress?.({ ...progress });
    }
    if (current) yield current.finish();
    await client.query({ text: "COMMIT" });
    finished = true;
  } finally {
    if (!finished) {
      try {
        await next?.catch(() => undefined);
        await client.query({ text: "ROLLBACK" });
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
    }
    release(broken);
  }
}

/** Runs {@link verifyBatches} to the end and summarises it. */
export async function verifyAll(
  pool: PgPoolLike,
  hasher: Hasher,
  options: VerifyOptions = {},
): Promise<VerificationReport> {
  let batches = 0;
  let messages = 0;
  let failedBatches = 0;
  let prunedBatches = 0;
  let firstFailure: VerificationFailure | null = null;
  let signaturesChecked = 0;
  let signaturesFlagged = 0;
  for await (const batch of verifyBatches(pool, hasher, options)) {
    batches += 1;
    messages += batch.leafCount;
    signaturesChecked += batch.signaturesChecked;
    signaturesFlagged += batch.signaturesFlagged;
    if (batch.prunedAt !== null) prunedBatches += 1;
    if (!batch.ok) {
      failedBatches += 1;
      firstFailure ??= batch.failure;
    }
  }
  return {
    ok: failedBatches === 0,
    batches,
    messages,
    failedBatches,
    prunedBatches,
    firstFailure,
    signaturesChecked,
    signaturesFlagged,
  };
}
