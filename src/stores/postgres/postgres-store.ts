import { InvalidOptionError, LifecycleError, StoreError } from "../../errors.js";
import { sha256Hasher } from "../../hashing/index.js";
import type { Hasher } from "../../hashing/types.js";
import type {
  AppendRequest,
  AppendResult,
  BatchLeaf,
  BatchRecord,
  DeadLetterRecord,
  MessageProof,
  OpenBatchSnapshot,
  SealRequest,
  Store,
} from "../store.js";
import { appendReadings } from "./append.js";
import * as batches from "./batches.js";
import { listDeadLetters } from "./dead-letters.js";
import { type MigrationError, toStoreError } from "./errors.js";
import { type MessageWriter, messageWriter } from "./message-writer.js";
import { assertMigrated, type MigrateOptions, type MigrateResult, migrate } from "./migrations/index.js";
import { type PostgresStoreOptions, validateStoreOptions } from "./options.js";
import type { PgPoolLike } from "./pg-types.js";
import { storePool } from "./pool.js";
import { getProof, type MessageVerification, verifyMessage } from "./proofs.js";
import type {
  BatchDetails,
  BatchMessage,
  DeviceMessage,
  DeviceStatistics,
  MessageBatch,
  PageOptions,
  PendingBatch,
  RecentBatch,
} from "./seed-queries.js";
import * as seed from "./seed-queries.js";
import {
  type BatchVerification,
  type VerificationReport,
  type VerifyOptions,
  verifyAll,
  verifyBatches,
} from "./verify-all.js";

function checkLimit(option: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new InvalidOptionError(option, `expected an integer ≥ ${min}, got ${String(value)}`);
  }
}

/**
 * The PostgreSQL {@link Store}, plus the seed's queries (§5.1–5.7), proofs and verification.
 * Create it with {@link postgresStore}.
 */
export class PostgresStore implements Store {
  /** `"postgres"`. */
  readonly name = "postgres";
  readonly #pool: PgPoolLike;
  readonly #ownsPool: boolean;
  readonly #options: PostgresStoreOptions;
  readonly #hasher: Hasher;
  readonly #writer: MessageWriter;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** Use {@link postgresStore}. @param options - see {@link PostgresStoreOptions} */
  constructor(options: PostgresStoreOptions = {}) {
    validateStoreOptions(options);
    const { pool, owned } = storePool(options);
    this.#pool = pool;
    this.#ownsPool = owned;
    this.#options = options;
    this.#hasher = options.hasher ?? sha256Hasher;
    this.#writer = messageWriter(options.insertMethod ?? "copy");
  }

  #db(): PgPoolLike {
    if (this.#closing) throw new LifecycleError("STOPPED", "postgres store is closed");
    return this.#pool;
  }

  async #run<T>(what: string, work: (db: PgPoolLike) => Promise<T>): Promise<T> {
    const db = this.#db();
    try {
      return await work(db);
    } catch (error) {
      throw toStoreError(what, error);
    }
  }

  /**
   * Checks the connection and the schema: applies pending migrations (default), or with
   * `migrate: false` only checks that none is pending. Idempotent.
   * @throws `StoreError` when the server cannot be reached; {@link MigrationError} for schema problems.
   */
  open(): Promise<void> {
    this.#opening ??= this.#run("open", async (db) => {
      const setting = this.#options.migrate ?? true;
      const directory = this.#options.migrationsDirectory;
      if (setting === false) {
        await assertMigrated(db, directory);
        return;
      }
      const seedData = typeof setting === "object" && setting.seed === true;
      await migrate(db, { seed: seedData, ...(directory !== undefined ? { directory } : {}) });
    }).catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  /**
   * Applies pending migrations (see the `migrate` function); `{ seed: true }` adds the seed's three devices.
   * @example
   * ```ts
   * await store.migrate({ seed: true });
   * ```
   */
  migrate(options: MigrateOptions = {}): Promise<MigrateResult> {
    const directory = options.directory ?? this.#options.migrationsDirectory;
    return this.#run("migrate", (db) =>
      migrate(db, { ...options, ...(directory !== undefined ? { directory } : {}) }),
    );
  }

  /**
   * The open (`pending`) batch with its leaves in leaf order, or `null`; when several are pending,
   * the oldest (see docs/schema.md).
   */
  loadOpenBatch(): Promise<OpenBatchSnapshot | null> {
    return this.#run("loadOpenBatch", (db) => batches.loadOpenBatch(db));
  }

  /**
   * Writes readings and rejections in one transaction: duplicates left out, the rest as the next
   * leaves of the open batch (created or advanced), devices upserted, refused rows dead-lettered.
   * @throws `StoreError` (with `cause`) when the database fails; nothing is written then.
   */
  async append(request: AppendRequest): Promise<AppendResult> {
    return appendReadings(this.#db(), request, this.#writer);
  }

  /** Marks a `pending` batch `complete` in one statement, if its stored root and count match. */
  sealBatch(request: SealRequest): Promise<BatchRecord> {
    return this.#run("sealBatch", (db) => batches.sealBatch(db, request));
  }

  /** Marks a batch `failed`, keeping the reason in `batches.failure_reason`. */
  failBatch(batchId: string, reason: string): Promise<void> {
    return this.#run("failBatch", (db) => batches.failBatch(db, batchId, reason));
  }

  /** One batch, or `null`. */
  getBatch(batchId: string): Promise<BatchRecord | null> {
    return this.#run("getBatch", async (db) => {
      const row = await batches.getBatchRow(db, batchId);
      return row ? batches.batchRecord(row) : null;
    });
  }

  /** Why a `failed` batch failed (`null` if it did not, or is unknown). */
  getBatchFailureReason(batchId: string): Promise<string | null> {
    return this.#run(
      "getBatchFailureReason",
      async (db) => (await batches.getBatchRow(db, batchId))?.failure_reason ?? null,
    );
  }

  /** A batch's leaves in leaf order. */
  getBatchLeaves(batchId: string): Promise<readonly BatchLeaf[]> {
    return this.#run("getBatchLeaves", (db) => batches.getBatchLeaves(db, batchId));
  }

  /** Inclusion proof of a stored message against its batch's stored `batch_hash`, or `null` if unknown. */
  getProof(messageId: string): Promise<MessageProof | null> {
    return this.#run("getProof", (db) => getProof(db, messageId, this.#hasher));
  }

  /** Recorded rejections, most recent first (`limit` defaults to 100). */
  async listDeadLetters(options: { readonly limit?: number } = {}): Promise<readonly DeadLetterRecord[]> {
    checkLimit("limit", options.limit, 0);
    return this.#run("listDeadLetters", (db) => listDeadLetters(db, options.limit ?? 100));
  }

  /** Seed §5.1 Get Batch Details, or `null`. */
  getBatchDetails(batchId: string): Promise<BatchDetails | null> {
    return this.#run("getBatchDetails", (db) => seed.getBatchDetails(db, batchId));
  }

  /** Seed §5.2 Get Messages in Batch (oldest first, `limit` 100, `offset` 0 by default). */
  async getBatchMessages(batchId: string, options: PageOptions = {}): Promise<BatchMessage[]> {
    checkLimit("limit", options.limit, 0);
    checkLimit("offset", options.offset, 0);
    return this.#run("getBatchMessages", (db) => seed.getBatchMessages(db, batchId, options));
  }

  /** Seed §5.3 Verify Message in Batch: the message's hash with its batch's hash and status, or `null`. */
  getMessageBatch(messageId: string): Promise<MessageBatch | null> {
    return this.#run("getMessageBatch", (db) => seed.getMessageBatch(db, messageId));
  }

  /** Seed §5.4 Get Device Statistics of a tenant. */
  getDeviceStatistics(tenantId: string): Promise<DeviceStatistics[]> {
    return this.#run("getDeviceStatistics", (db) => seed.getDeviceStatistics(db, tenantId));
  }

  /** Seed §5.5 Search Messages by Device and Time Range (inclusive, newest first, `limit` 100). */
  async searchDeviceMessages(
    deviceId: string,
    from: Date,
    to: Date,
    options: { readonly limit?: number } = {},
  ): Promise<DeviceMessage[]> {
    checkLimit("limit", options.limit, 0);
    return this.#run("searchDeviceMessages", (db) =>
      seed.searchDeviceMessages(db, deviceId, from, to, options.limit),
    );
  }

  /** Seed §5.6 Get Recent Batches (`limit` 20). */
  async getRecentBatches(options: { readonly limit?: number } = {}): Promise<RecentBatch[]> {
    checkLimit("limit", options.limit, 0);
    return this.#run("getRecentBatches", (db) => seed.getRecentBatches(db, options.limit));
  }

  /** Seed §5.7 Get Pending Batches (for monitoring), oldest first, `ageMs` in milliseconds. */
  getPendingBatches(): Promise<PendingBatch[]> {
    return this.#run("getPendingBatches", (db) => seed.getPendingBatches(db));
  }

  /**
   * Verifies one message: `raw_data` re-hashed (RFC 8785) equals `message_hash`, the batch's
   * leaves are complete, their root is the stored `batch_hash`, and the inclusion proof holds.
   * @example
   * ```ts
   * const result = await store.verifyMessage(id);
   * if (!result.ok) console.error(result.failures); // e.g. ["message_hash_mismatch", …]
   * ```
   */
  verifyMessage(messageId: string): Promise<MessageVerification> {
    return this.#run("verifyMessage", (db) => verifyMessage(db, messageId, this.#hasher));
  }

  /**
   * Streams the verification of every batch (server-side cursor, one consistent snapshot).
   * @example
   * ```ts
   * for await (const batch of store.verifyBatches()) if (!batch.ok) console.error(batch.failure);
   * ```
   */
  async *verifyBatches(options: VerifyOptions = {}): AsyncGenerator<BatchVerification, void, undefined> {
    checkLimit("fetchSize", options.fetchSize, 1);
    try {
      yield* verifyBatches(this.#db(), this.#hasher, options);
    } catch (error) {
      throw toStoreError("verifyBatches", error);
    }
  }

  /** Verifies the whole database (streaming) and returns a summary naming the first failing batch and message. */
  async verifyAll(options: VerifyOptions = {}): Promise<VerificationReport> {
    checkLimit("fetchSize", options.fetchSize, 1);
    return this.#run("verifyAll", (db) => verifyAll(db, this.#hasher, options));
  }

  /** Releases the pool if the store created it (a pool you passed stays open). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#ownsPool
      ? this.#pool.end().catch((error: unknown) => {
          throw new StoreError("postgres store: closing the pool failed", { cause: error });
        })
      : Promise.resolve();
    return this.#closing;
  }

  /** `await using store = postgresStore(…)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the PostgreSQL {@link Store}. Options are validated here; nothing connects before `open()`
 * or the first call.
 *
 * @throws `InvalidOptionError` naming the option.
 * @example
 * ```ts
 * import { postgresStore } from "veep-bridge/postgres";
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL });
 * await store.open(); // applies migrations
 * ```
 */
export function postgresStore(options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(options);
}
