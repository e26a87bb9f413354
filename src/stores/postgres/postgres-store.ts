import type {
  AnchorAttempt,
  AnchoredBatch,
  AnchorLedger,
  AnchorWork,
  BatchAnchor,
} from "../../anchoring/types.js";
import { InvalidOptionError, StoreError } from "../../errors.js";
import { sha256Hasher } from "../../hashing/index.js";
import type { Hasher } from "../../hashing/types.js";
import { exceedsLength, MAX_ID_LENGTH } from "../../message/text-limits.js";
import { isDevicePublicKey } from "../../signing/device-signature.js";
import { integerOption } from "../../validation.js";
import { guardStore } from "../guard-store.js";
import type {
  AppendRequest,
  AppendResult,
  AuditReader,
  BatchLeaf,
  BatchRecord,
  DeadLetterRecord,
  MessageProof,
  OpenBatchSnapshot,
  SealRequest,
  Store,
} from "../store.js";
import * as anchoring from "./anchoring.js";
import { type AppendPartitioning, appendReadings } from "./append.js";
import {
  type ArchivedBatch,
  type ArchiveOptions,
  archiveBatches,
  type PrunedPartition,
  type PruneOptions,
  prunePartitions,
} from "./archive.js";
import * as batches from "./batches.js";
import { listDeadLetters } from "./dead-letters.js";
import {
  type DeviceKeyChange,
  type DeviceRegistration,
  loadDeviceKeys,
  setDeviceKey,
  type UnknownDeviceError,
} from "./devices.js";
import { type MigrationError, toStoreError } from "./errors.js";
import { type MessageWriter, messageWriter } from "./message-writer.js";
import { assertMigrated, type MigrateOptions, type MigrateResult, migrate } from "./migrations/index.js";
import { type PostgresStoreOptions, validateStoreOptions } from "./options.js";
import {
  createPartitions,
  type PartitionInterval,
  partitionStart,
  pruneDeviceMinuteCounts,
  type ResolvedPartitionOptions,
  readPartitionInterval,
  resolvePartitionOptions,
  shiftPartitions,
  writePartitionInterval,
  writePartitionManager,
} from "./partitions.js";
import type { PgPoolLike } from "./pg-types.js";
import { storePool } from "./pool.js";
import { getProof, type MessageVerification, verifyMessage } from "./proofs.js";
import type {
  BatchDetails,
  BatchMessage,
  DeviceMessage,
  DeviceStatistics,
  MessageBatch,
  Page,
  PageOptions,
  PendingBatch,
  RecentBatch,
  TimeRange,
} from "./read-queries.js";
import * as reads from "./read-queries.js";
import {
  type BatchVerification,
  type VerificationReport,
  type VerifyOptions,
  verifyAll,
  verifyBatches,
} from "./verify-all.js";

function checkLimit(option: string, value: number | undefined, min: number): void {
  integerOption(option, value, undefined, { min });
}

/**
 * The PostgreSQL {@link Store} and {@link AuditReader}, plus the read queries, proofs and
 * verification. Create it with {@link postgresStore}.
 */
export class PostgresStore implements Store, AuditReader, AnchorLedger {
  /** `"postgres"`. */
  readonly name = "postgres";
  /** The hash primitives of its message hashes, Merkle trees and proofs (option `hasher`). */
  readonly hasher: Hasher;
  readonly #pool: PgPoolLike;
  readonly #ownsPool: boolean;
  readonly #options: PostgresStoreOptions;
  readonly #writer: MessageWriter;
  readonly #partitionOptions: ResolvedPartitionOptions;
  /** The partitions' interval, read at `open()`. */
  #interval: PartitionInterval = "day";
  #maintenance: ReturnType<typeof setInterval> | undefined;

  /** Use {@link postgresStore}. @param options - see {@link PostgresStoreOptions} */
  constructor(options: PostgresStoreOptions = {}) {
    validateStoreOptions(options);
    const { pool, owned } = storePool(options);
    this.#pool = pool;
    this.#ownsPool = owned;
    this.#options = options;
    this.hasher = options.hasher ?? sha256Hasher;
    this.#writer = messageWriter(options.insertMethod ?? "copy");
    this.#partitionOptions = resolvePartitionOptions(options.partitions);
  }

  /** How appends find copies across partitions and make missing ones. */
  get #partitioning(): AppendPartitioning {
    return {
      interval: this.#interval,
      lookback: this.#partitionOptions.lookback,
      redeliveryWindowMs: this.#partitionOptions.redeliveryWindowMs,
      ensure: (times) => this.#ensurePartitions(times),
    };
  }

  /** Makes the partition of each of `times` (only those: not the whole span between them). */
  async #ensurePartitions(times: readonly Date[]): Promise<void> {
    const starts = [...new Set(times.map((t) => partitionStart(t, this.#interval).getTime()))].sort(
      (a, b) => a - b,
    );
    if (this.#partitionOptions.manager === "external") {
      throw new StoreError(
        `no partition of messages takes readings received on ${new Date(starts[0]!).toISOString()}: the ` +
          "partitions are managed outside veep-bridge (partitions.manager: external); create them (e.g. pg_partman's run_maintenance())",
      );
    }
    for (const start of starts) await createPartitions(this.#pool, new Date(start), new Date(start + 1));
  }

  /**
   * The partitions from the current one's predecessor to `aheadDays` ahead (unless an external
   * manager makes them), and per-minute device counts older than two days deleted.
   */
  async #maintainPartitions(): Promise<void> {
    if (this.#partitionOptions.manager === "veep-bridge") {
      const now = new Date();
      const from = shiftPartitions(partitionStart(now, this.#interval), this.#interval, -1);
      const to = new Date(now.getTime() + this.#partitionOptions.aheadDays * 86_400_000);
      await createPartitions(this.#pool, from, to);
    }
    await pruneDeviceMinuteCounts(this.#pool);
  }

  /**
   * Reads (or sets, with `partitions.interval`) the partition interval and makes the partitions
   * ahead, then every hour (an unref'd timer; a failure is retried at the next one).
   */
  async #startPartitions(db: PgPoolLike): Promise<void> {
    const { interval: wanted, manager } = this.#partitionOptions;
    await writePartitionManager(db, manager);
    if (wanted !== undefined && manager === "veep-bridge") await writePartitionInterval(db, wanted);
    this.#interval = await readPartitionInterval(db);
    await this.#maintainPartitions();
    this.#maintenance ??= setInterval(() => {
      this.#maintainPartitions().catch(() => undefined);
    }, 3_600_000);
    this.#maintenance.unref();
  }

  async #run<T>(what: string, work: (db: PgPoolLike) => Promise<T>): Promise<T> {
    try {
      return await work(this.#pool);
    } catch (error) {
      throw toStoreError(what, error);
    }
  }

  /**
   * Checks the connection and the schema: applies pending migrations (default), or with
   * `migrate: false` only checks that none is pending. Runs once (later calls share the first).
   * @throws `StoreError` when the server cannot be reached; {@link MigrationError} for schema problems.
   */
  open(): Promise<void> {
    return this.#run("open", async (db) => {
      const setting = this.#options.migrate ?? true;
      const directory = this.#options.migrationsDirectory;
      if (setting === false) {
        await assertMigrated(db, directory);
      } else {
        const seedData = typeof setting === "object" && setting.seed === true;
        await migrate(db, {
          seed: seedData,
          partitions: this.#partitionOptions.manager === "veep-bridge",
          ...(directory !== undefined ? { directory } : {}),
        });
      }
      await this.#startPartitions(db);
    });
  }

  /**
   * Applies pending migrations (see the `migrate` function); `{ seed: true }` also adds the three
   * sample devices.
   * @example
   * ```ts
   * await store.migrate({ seed: true });
   * ```
   */
  migrate(options: MigrateOptions = {}): Promise<MigrateResult> {
    const directory = options.directory ?? this.#options.migrationsDirectory;
    return this.#run("migrate", (db) =>
      migrate(db, {
        partitions: this.#partitionOptions.manager === "veep-bridge",
        ...options,
        ...(directory !== undefined ? { directory } : {}),
      }),
    );
  }

  /**
   * The open (`pending`) batch of `owner` with its leaves in leaf order, or `null`; without one, a
   * pending batch of no owner, claimed for `owner` in the same statement (see docs/schema.md).
   * @param owner - the bridge's `batch.owner`; absent: the batches of no owner
   */
  loadOpenBatch(owner?: string): Promise<OpenBatchSnapshot | null> {
    return this.#run("loadOpenBatch", (db) => batches.loadOpenBatch(db, owner));
  }

  /**
   * Writes readings and rejections in one transaction: duplicates left out, the rest as the next
   * leaves of the open batch (created or advanced), devices upserted, refused rows dead-lettered.
   * @throws `StoreError` (with `cause`) when the database fails; nothing is written then.
   */
  async append(request: AppendRequest): Promise<AppendResult> {
    return appendReadings(this.#pool, request, this.#writer, this.#partitioning);
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
    return this.#run("getProof", (db) => getProof(db, messageId, this.hasher));
  }

  /** Recorded rejections, most recent first (`limit` defaults to 100). */
  async listDeadLetters(options: { readonly limit?: number } = {}): Promise<readonly DeadLetterRecord[]> {
    checkLimit("limit", options.limit, 0);
    return this.#run("listDeadLetters", (db) => listDeadLetters(db, options.limit ?? 100));
  }

  /**
   * Registers or rotates a device's Ed25519 public key (`devices.public_key`); `null` removes it.
   * A bridge that checks signatures picks the change up at its next key refresh, or at once when
   * the device's next reading fails the check with the key it knows (see docs/hashing.md §6).
   *
   * @param deviceId - the device (the topic's `{device}` segment)
   * @param publicKey - base58 of the 32-byte key, or `null` to remove it
   * @param register - tenant and site, to create a device that has not sent a reading yet
   * @returns the key before and after
   * @throws `InvalidOptionError` when the key is not base58 of 32 bytes; {@link UnknownDeviceError}
   * when the device is unknown and `register` is not given; `StoreError` when the database fails
   * @example
   * ```ts
   * await store.setDeviceKey("SENSOR_001", "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z");
   * ```
   */
  async setDeviceKey(
    deviceId: string,
    publicKey: string | null,
    register?: DeviceRegistration,
  ): Promise<DeviceKeyChange> {
    if (publicKey !== null && !isDevicePublicKey(publicKey)) {
      throw new InvalidOptionError("publicKey", "expected an Ed25519 public key: base58 of 32 bytes");
    }
    if (typeof deviceId !== "string" || deviceId.length === 0 || exceedsLength(deviceId, MAX_ID_LENGTH)) {
      throw new InvalidOptionError("deviceId", `expected a device id of 1 to ${MAX_ID_LENGTH} characters`);
    }
    for (const [name, value] of [
      ["register.tenantId", register?.tenantId],
      ["register.siteId", register?.siteId],
    ] as const) {
      if (
        register !== undefined &&
        (typeof value !== "string" || value.length === 0 || exceedsLength(value, MAX_ID_LENGTH))
      ) {
        throw new InvalidOptionError(name, `expected 1 to ${MAX_ID_LENGTH} characters`);
      }
    }
    return this.#run("setDeviceKey", (db) => setDeviceKey(db, deviceId, publicKey, register));
  }

  /**
   * Every device that has a key, for the bridge's signature checks (one query; the bridge calls it
   * at start and at each refresh, never per message).
   * @returns device id → base58 public key
   */
  loadDeviceKeys(): Promise<ReadonlyMap<string, string>> {
    return this.#run("loadDeviceKeys", (db) => loadDeviceKeys(db));
  }

  /** The batch's details (with the number of messages that reference it), or `null`. */
  getBatchDetails(batchId: string): Promise<BatchDetails | null> {
    return this.#run("getBatchDetails", (db) => reads.getBatchDetails(db, batchId));
  }

  /**
   * A page of a batch's messages, oldest first (`limit` 100); give the page's `nextCursor` as
   * `after` for the next one.
   * @example
   * ```ts
   * for (let page = await store.getBatchMessages(id); ; page = await store.getBatchMessages(id, { after: page.nextCursor })) {
   *   for (const m of page.items) console.log(m.messageId);
   *   if (page.nextCursor === null) break;
   * }
   * ```
   */
  getBatchMessages(batchId: string, options: PageOptions = {}): Promise<Page<BatchMessage>> {
    return this.#run("getBatchMessages", (db) => reads.getBatchMessages(db, batchId, options));
  }

  /** A message's batch: the message's hash with its batch's hash and status, or `null`. */
  getMessageBatch(messageId: string): Promise<MessageBatch | null> {
    return this.#run("getMessageBatch", (db) => reads.getMessageBatch(db, messageId));
  }

  /**
   * A page of a tenant's devices (`limit` 100): most recently seen first, with their readings of
   * the last 24 hours.
   */
  getDeviceStatistics(tenantId: string, options: PageOptions = {}): Promise<Page<DeviceStatistics>> {
    return this.#run("getDeviceStatistics", (db) => reads.getDeviceStatistics(db, tenantId, options));
  }

  /** A page of a device's messages received in `range` (inclusive), newest first (`limit` 100). */
  searchDeviceMessages(
    deviceId: string,
    range: TimeRange,
    options: PageOptions = {},
  ): Promise<Page<DeviceMessage>> {
    return this.#run("searchDeviceMessages", (db) =>
      reads.searchDeviceMessages(db, deviceId, range, options),
    );
  }

  /** A page of the batches, most recently created first (`limit` 20). */
  getRecentBatches(options: PageOptions = {}): Promise<Page<RecentBatch>> {
    return this.#run("getRecentBatches", (db) => reads.getRecentBatches(db, options));
  }

  /**
   * Writes each sealed batch whose last reading came before `options.before`, and that is not
   * archived yet, to `<directory>/<batchId>.json` (every message with its leaf index, hash and
   * raw_data, and a manifest with the root, count and anchor), and records it in
   * `batches.archived_at`. Check the files with `verifyArchive(directory)`, no database needed.
   * @example
   * ```ts
   * await store.archive({ before: new Date(Date.now() - 90 * 86_400_000), directory: "/var/archive/veep" });
   * ```
   */
  archive(options: ArchiveOptions): Promise<ArchivedBatch[]> {
    return this.#run("archive", (db) => archiveBatches(db, options));
  }

  /**
   * Drops whole message partitions that end before `options.before` once every batch with messages
   * in them is archived (or with `force`), oldest first; the batches keep their rows, marked pruned.
   * @throws `PruneRefusedError` at a partition holding a batch that is not archived
   */
  prune(options: PruneOptions): Promise<PrunedPartition[]> {
    return this.#run("prune", (db) => prunePartitions(db, options));
  }

  /** The batches still pending (for monitoring), oldest first, `ageMs` in milliseconds. */
  getPendingBatches(): Promise<PendingBatch[]> {
    return this.#run("getPendingBatches", (db) => reads.getPendingBatches(db));
  }

  /**
   * Verifies one message: `raw_data` re-hashed (RFC 8785) equals `message_hash`, the batch's
   * leaves are complete, their root is the stored `batch_hash`, the inclusion proof holds, and a
   * stored device signature checks out (`signature_invalid`, see docs/hashing.md §6).
   * @example
   * ```ts
   * const result = await store.verifyMessage(id);
   * if (!result.ok) console.error(result.failures); // e.g. ["message_hash_mismatch", …]
   * ```
   */
  verifyMessage(messageId: string): Promise<MessageVerification> {
    return this.#run("verifyMessage", (db) => verifyMessage(db, messageId, this.hasher));
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
      yield* verifyBatches(this.#pool, this.hasher, options);
    } catch (error) {
      throw toStoreError("verifyBatches", error);
    }
  }

  /** Verifies the whole database (streaming) and returns a summary naming the first failing batch and message. */
  async verifyAll(options: VerifyOptions = {}): Promise<VerificationReport> {
    checkLimit("fetchSize", options.fetchSize, 1);
    return this.#run("verifyAll", (db) => verifyAll(db, this.hasher, options));
  }

  /**
   * Leases up to `limit` batches due for anchoring to `owner` for `leaseMs` (`FOR UPDATE SKIP
   * LOCKED`, then a lease in `batches.anchor_lease_*`): `complete`, `blockchain_pending`, or
   * `failed` by anchoring with `anchor_retry_at` passed.
   */
  claimAnchorWork(options: {
    readonly owner: string;
    readonly limit: number;
    readonly leaseMs: number;
  }): Promise<readonly AnchorWork[]> {
    return this.#run("claimAnchorWork", (db) => anchoring.claimAnchorWork(db, options));
  }

  /** Ends `owner`'s anchoring lease of a batch. */
  releaseAnchorWork(batchId: string, owner: string): Promise<void> {
    return this.#run("releaseAnchorWork", (db) => anchoring.releaseAnchorWork(db, batchId, owner));
  }

  /**
   * Inserts a `blockchain_transactions` row (`pending`) and moves the batch to `blockchain_pending`
   * with `solana_tx_signature`, in one statement, before the transaction is sent.
   */
  recordAnchorAttempt(attempt: {
    readonly batchId: string;
    readonly signature: string;
    readonly memo: string;
    readonly validUntil: number | null;
  }): Promise<void> {
    return this.#run("recordAnchorAttempt", (db) => anchoring.recordAnchorAttempt(db, attempt));
  }

  /** Marks a `blockchain_transactions` row `expired` or `failed`, keeping the reason in `error`. */
  resolveAnchorAttempt(signature: string, status: "expired" | "failed", error: string): Promise<void> {
    return this.#run("resolveAnchorAttempt", (db) =>
      anchoring.resolveAnchorAttempt(db, signature, status, error),
    );
  }

  /**
   * Marks the attempt `confirmed` (`block_number`, `gas_fee` in SOL, `confirmed_at`) and the batch
   * `blockchain_confirmed` (`solana_block_number`, `confirmed_at`, `solana_confirmed`,
   * `solana_confirmation_time`).
   */
  confirmAnchor(
    batchId: string,
    signature: string,
    confirmation: { readonly slot: number; readonly feeLamports: number },
  ): Promise<void> {
    return this.#run("confirmAnchor", (db) => anchoring.confirmAnchor(db, batchId, signature, confirmation));
  }

  /** Moves a batch to `failed` (reason in `failure_reason`), counts the failure, sets `anchor_retry_at`. */
  failAnchor(batchId: string, reason: string, retryAt: Date): Promise<void> {
    return this.#run("failAnchor", (db) => anchoring.failAnchor(db, batchId, reason, retryAt));
  }

  /** Every `blockchain_transactions` row of a batch, oldest first. */
  listAnchorAttempts(batchId: string): Promise<readonly AnchorAttempt[]> {
    return this.#run("listAnchorAttempts", (db) => anchoring.listAnchorAttempts(db, batchId));
  }

  /** The batch's anchor (pending or confirmed) with its memo, or `null`. */
  getAnchor(batchId: string): Promise<BatchAnchor | null> {
    return this.#run("getAnchor", (db) => anchoring.getAnchor(db, batchId));
  }

  /** Every confirmed anchor with its batch, in batch id order (pages of 500). */
  async *listAnchors(): AsyncGenerator<AnchoredBatch, void, undefined> {
    try {
      yield* anchoring.listAnchors(this.#pool);
    } catch (error) {
      throw toStoreError("listAnchors", error);
    }
  }

  /** Releases the pool if the store created it (a pool you passed stays open). Runs once. */
  async close(): Promise<void> {
    clearInterval(this.#maintenance);
    this.#maintenance = undefined;
    if (!this.#ownsPool) return;
    await this.#pool.end().catch((error: unknown) => {
      throw new StoreError("postgres store: closing the pool failed", { cause: error });
    });
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
  return guardStore(new PostgresStore(options));
}
