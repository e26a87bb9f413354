import { randomUUID } from "node:crypto";
import type {
  AnchorAttempt,
  AnchoredBatch,
  AnchorLedger,
  AnchorWork,
  BatchAnchor,
} from "../../anchoring/types.js";
import { BatchIntegrityError, InvalidOptionError, StoreError } from "../../errors.js";
import { type Hasher, type InclusionProof, inclusionProofs, sha256Hasher } from "../../hashing/index.js";
import type { Reading, Rejection } from "../../message/types.js";
import { isDevicePublicKey } from "../../signing/device-signature.js";
import { integerOption } from "../../validation.js";
import { deadLetterKey, duplicateKey } from "../duplicate-key.js";
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

/**
 * Everything a memory store holds, for tests to inspect. Pass one store's `data` to a new
 * {@link memoryStore} to simulate a restart over the same database.
 */
export interface MemoryStoreData {
  /** Batches by id, with the reason of a failed one. */
  readonly batches: Map<
    string,
    BatchRecord & {
      /** Why the batch was marked `failed`, if it was. */
      readonly failureReason?: string;
      /** The bridge that writes it (`AppendRequest.owner`), if one was named. */
      readonly owner?: string;
      /** Anchoring: `solana_tx_signature`, `solana_block_number`, `confirmed_at`, failures, retry time, lease. */
      readonly anchor?: MemoryBatchAnchorState;
    }
  >;
  /** Anchoring attempts (`blockchain_transactions`) in the order recorded. */
  readonly anchorAttempts: AnchorAttempt[];
  /** Stored messages by id: the leaf, its batch, the reading as decoded and when it was committed. */
  readonly messages: Map<
    string,
    BatchLeaf & {
      /** The batch it belongs to. */
      readonly batchId: string;
      /** The reading as decoded. */
      readonly reading: Reading;
      /** When it was committed. */
      readonly processedAt: Date;
    }
  >;
  /** Message ids by {@link duplicateKey} (the de-duplication rule: same device, same hash). */
  readonly messageIdsByHash: Map<string, string>;
  /** Message ids of each batch, in leaf order. */
  readonly leavesByBatch: Map<string, string[]>;
  /** Per-device statistics, as the `devices` table keeps them. */
  readonly devices: Map<
    string,
    {
      /** Device id. */
      readonly deviceId: string;
      /** Tenant id from the latest topic. */
      readonly tenantId: string;
      /** Site id from the latest topic. */
      readonly siteId: string;
      /** Latest `receivedAt`. */
      readonly lastSeen: Date;
      /** Messages stored for the device. */
      readonly messageCount: number;
      /** Latest firmware version seen, if any. */
      readonly firmwareVersion: string | undefined;
    }
  >;
  /** Recorded rejections, oldest first. */
  readonly deadLetters: DeadLetterRecord[];
  /** Keys of the recorded rejections (one dead letter per device and payload). */
  readonly deadLetterKeys: Set<string>;
  /** Registered device keys, as `devices.public_key` keeps them: device id → base58 Ed25519 key. */
  readonly deviceKeys: Map<string, string>;
}

/** The anchoring columns of a memory batch. */
export interface MemoryBatchAnchorState {
  /** `solana_tx_signature`. */
  readonly signature?: string;
  /** `solana_block_number`. */
  readonly slot?: number;
  /** `confirmed_at`. */
  readonly confirmedAt?: Date;
  /** Anchoring failures so far. */
  readonly failures: number;
  /** When a batch failed by anchoring is due again. */
  readonly retryAt?: Date;
  /** Lease holder and its end. */
  readonly lease?: {
    /** The worker holding it. */
    readonly owner: string;
    /** Its end, in epoch milliseconds. */
    readonly until: number;
  };
}

function emptyData(): MemoryStoreData {
  return {
    anchorAttempts: [],
    batches: new Map(),
    messages: new Map(),
    messageIdsByHash: new Map(),
    leavesByBatch: new Map(),
    devices: new Map(),
    deadLetters: [],
    deadLetterKeys: new Set(),
    deviceKeys: new Map(),
  };
}

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Data to work on: another memory store's `data`, to simulate a restart over the same database.
   * @defaultValue empty
   */
  readonly data?: MemoryStoreData;
  /**
   * Payloads the store refuses (like a database refusing a row), as a predicate; refused readings
   * are dead-lettered with reason `store_refused`. Useful to test a host application's handling.
   * @defaultValue refuses nothing
   */
  readonly refuse?: (reading: Reading) => string | undefined;
  /**
   * Hash primitives of the message hashes and Merkle trees (a bridge over this store uses them too).
   * @defaultValue `sha256Hasher`
   */
  readonly hasher?: Hasher;
}

/**
 * The in-memory {@link Store} with its {@link AuditReader}: product code for host-application
 * tests, passing the same conformance suite as PostgreSQL.
 */
export interface MemoryStore extends Store, AuditReader, AnchorLedger {
  /** The hash primitives in use. */
  readonly hasher: Hasher;
  /** The data it holds (inspect it in tests, or share it with a new instance). */
  readonly data: MemoryStoreData;
  /**
   * Makes the next `count` calls of `append` (or `sealBatch`) fail with `error`, as a lost database
   * connection would: nothing of those calls is written.
   */
  failNext(count: number, error?: Error, operation?: "append" | "sealBatch"): void;
  /**
   * Registers, rotates or (with `null`) removes a device's Ed25519 public key, as the PostgreSQL
   * store's `setDeviceKey` does (a device need not have sent a reading yet).
   * @param deviceId - the device
   * @param publicKey - base58 of the 32-byte key, or `null`
   * @returns the key it had before (`null`: none)
   * @throws `InvalidOptionError` when the key is not base58 of 32 bytes
   */
  setDeviceKey(deviceId: string, publicKey: string | null): Promise<string | null>;
  /** Every registered device key (device id → base58 key); a bridge over this store checks signatures with them. */
  loadDeviceKeys(): Promise<ReadonlyMap<string, string>>;
}

type MemoryBatch = MemoryStoreData["batches"] extends Map<string, infer B> ? B : never;

/** A stored batch as a {@link BatchRecord}: without what only the memory store keeps of it. */
function recordOf(batch: MemoryBatch): BatchRecord {
  const { failureReason: _reason, owner: _owner, anchor: _anchor, ...record } = batch;
  return record;
}

/**
 * Creates an in-memory {@link Store}.
 *
 * @example
 * ```ts
 * const store = memoryStore();
 * const bridge = createBridge({ source: memorySource(), store });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const data = options.data ?? emptyData();
  const hasher = options.hasher ?? sha256Hasher;
  const failures = { append: [] as Error[], sealBatch: [] as Error[] };
  const sealedProofs = new Map<string, InclusionProof[]>();

  const takeFailure = (operation: "append" | "sealBatch"): void => {
    const error = failures[operation].shift();
    if (error) throw new StoreError(`memory store: simulated ${operation} failure`, { cause: error });
  };
  /** Records a rejection; `false` when the same device's same payload is already recorded. */
  const record = (rejection: Rejection): boolean => {
    const key = deadLetterKey(rejection);
    if (data.deadLetterKeys.has(key)) return false;
    data.deadLetterKeys.add(key);
    data.deadLetters.push({ ...rejection, id: randomUUID() });
    return true;
  };

  const attemptsOf = (batchId: string): AnchorAttempt[] =>
    data.anchorAttempts.filter((a) => a.batchId === batchId);
  const anchorOf = (batchId: string): BatchAnchor | null => {
    const batch = data.batches.get(batchId);
    const signature = batch?.anchor?.signature;
    if (!batch || signature === undefined) return null;
    if (batch.status !== "blockchain_pending" && batch.status !== "blockchain_confirmed") return null;
    const attempt = data.anchorAttempts.find((a) => a.signature === signature && a.batchId === batchId);
    return {
      batchId,
      status: batch.status,
      signature,
      slot: batch.anchor?.slot ?? null,
      memo: attempt?.memo ?? "",
      confirmedAt: batch.anchor?.confirmedAt ?? null,
      aggregation: attempt?.aggregation ?? null,
    };
  };

  return guardStore<MemoryStore>({
    name: "memory",
    hasher,
    data,
    failNext(count, error = new Error("simulated failure"), operation = "append") {
      for (let i = 0; i < count; i++) failures[operation].push(error);
    },
    async setDeviceKey(deviceId: string, publicKey: string | null): Promise<string | null> {
      if (publicKey !== null && !isDevicePublicKey(publicKey)) {
        throw new InvalidOptionError("publicKey", "expected an Ed25519 public key: base58 of 32 bytes");
      }
      const previous = data.deviceKeys.get(deviceId) ?? null;
      if (publicKey === null) data.deviceKeys.delete(deviceId);
      else data.deviceKeys.set(deviceId, publicKey);
      return previous;
    },
    async loadDeviceKeys(): Promise<ReadonlyMap<string, string>> {
      return new Map(data.deviceKeys);
    },
    async open() {},
    async loadOpenBatch(owner?: string): Promise<OpenBatchSnapshot | null> {
      const pending = [...data.batches.values()].filter((b) => b.status === "pending");
      const own = pending.find((b) => b.owner === owner);
      const claimed = own ?? pending.find((b) => b.owner === undefined);
      if (!claimed) return null;
      if (owner !== undefined) data.batches.set(claimed.batchId, { ...claimed, owner });
      const ids = data.leavesByBatch.get(claimed.batchId) ?? [];
      const rows = ids.map((id) => data.messages.get(id)!);
      const payloadBytes = rows.reduce((sum, row) => sum + row.reading.byteLength, 0);
      return { ...claimed, leaves: rows.map((row) => row.messageHash), payloadBytes };
    },
    async append(request: AppendRequest): Promise<AppendResult> {
      const sealed = (plan: { readonly messageCount: number }): boolean =>
        request.sealAt !== undefined && plan.messageCount >= request.sealAt;
      takeFailure("append");
      const duplicates: Reading[] = [];
      const refused: Rejection[] = [];
      const fresh: Reading[] = [];
      for (const reading of request.readings) {
        if (data.messageIdsByHash.has(duplicateKey(reading.messageHash, reading.deviceId))) {
          duplicates.push(reading);
          continue;
        }
        const refusal = options.refuse?.(reading);
        if (refusal !== undefined) {
          refused.push({
            topic: reading.topic,
            deviceId: reading.deviceId,
            payload: reading.rawPayload,
            reason: "store_refused",
            detail: refusal,
            receivedAt: reading.receivedAt,
          });
          continue;
        }
        fresh.push(reading);
      }
      const existing = data.batches.get(request.batchId);
      if (existing && existing.status !== "pending") {
        throw new StoreError(`batch ${request.batchId} is ${existing.status}, not pending`);
      }
      const plan = fresh.length > 0 ? request.plan(fresh) : null;
      if (plan) {
        const leaves = data.leavesByBatch.get(plan.batchId) ?? [];
        if ((plan.leaves[0]?.leafIndex ?? leaves.length) !== leaves.length) {
          throw new BatchIntegrityError(plan.batchId, "plan does not continue the stored leaves");
        }
        const processedAt = new Date();
        for (const { reading, leafIndex } of plan.leaves) {
          data.messages.set(reading.messageId, {
            messageId: reading.messageId,
            batchId: plan.batchId,
            leafIndex,
            messageHash: reading.messageHash,
            reading,
            processedAt,
          });
          data.messageIdsByHash.set(duplicateKey(reading.messageHash, reading.deviceId), reading.messageId);
          leaves.push(reading.messageId);
          const device = data.devices.get(reading.deviceId);
          data.devices.set(reading.deviceId, {
            deviceId: reading.deviceId,
            tenantId: reading.tenantId,
            siteId: reading.siteId,
            lastSeen: device && device.lastSeen > reading.receivedAt ? device.lastSeen : reading.receivedAt,
            messageCount: (device?.messageCount ?? 0) + 1,
            firmwareVersion: reading.firmwareVersion ?? device?.firmwareVersion,
          });
        }
        data.leavesByBatch.set(plan.batchId, leaves);
        const owner = existing ? existing.owner : request.owner;
        data.batches.set(plan.batchId, {
          ...(owner !== undefined ? { owner } : {}),
          batchId: plan.batchId,
          batchHash: plan.batchHash,
          messageCount: plan.messageCount,
          startTimestamp: plan.startTimestamp,
          endTimestamp: plan.endTimestamp,
          status: sealed(plan) ? "complete" : "pending",
        });
      }
      const duplicateRejections = [...request.rejections, ...refused].filter(
        (rejection) => !record(rejection),
      );
      const refusedNow = refused.filter((rejection) => !duplicateRejections.includes(rejection));
      return {
        plan,
        duplicates,
        refused: refusedNow,
        ...(plan && sealed(plan) ? { sealed: true } : {}),
        ...(duplicateRejections.length > 0 ? { duplicateRejections } : {}),
      };
    },
    async sealBatch(request: SealRequest): Promise<BatchRecord> {
      takeFailure("sealBatch");
      const batch = data.batches.get(request.batchId);
      if (!batch) throw new StoreError(`cannot seal unknown batch ${request.batchId}`);
      if (batch.status !== "pending")
        throw new StoreError(`cannot seal batch ${request.batchId}: it is ${batch.status}`);
      if (batch.batchHash !== request.batchHash || batch.messageCount !== request.messageCount) {
        throw new BatchIntegrityError(
          request.batchId,
          `seal of batch ${request.batchId} does not match its stored root/count (${batch.messageCount} leaves)`,
        );
      }
      data.batches.set(request.batchId, { ...batch, status: "complete" });
      return { ...recordOf(batch), status: "complete" };
    },
    async failBatch(batchId: string, reason: string) {
      const batch = data.batches.get(batchId);
      if (!batch) throw new StoreError(`cannot fail unknown batch ${batchId}`);
      data.batches.set(batchId, { ...batch, status: "failed", failureReason: reason });
    },
    async getBatch(batchId: string) {
      const batch = data.batches.get(batchId);
      if (!batch) return null;
      return recordOf(batch);
    },
    async getBatchLeaves(batchId: string) {
      return (data.leavesByBatch.get(batchId) ?? []).map((id) => {
        const row = data.messages.get(id)!;
        return { messageId: row.messageId, leafIndex: row.leafIndex, messageHash: row.messageHash };
      });
    },
    async getProof(messageId: string): Promise<MessageProof | null> {
      const row = data.messages.get(messageId);
      if (!row) return null;
      const batch = data.batches.get(row.batchId)!;
      let proofs = sealedProofs.get(row.batchId);
      if (!proofs) {
        const hashes = (data.leavesByBatch.get(row.batchId) ?? []).map(
          (id) => data.messages.get(id)!.messageHash,
        );
        proofs = inclusionProofs(hashes, hasher);
        if (batch.status !== "pending") sealedProofs.set(row.batchId, proofs);
      }
      const proof = proofs[row.leafIndex]!;
      return { ...proof, root: batch.batchHash, messageId, batchId: row.batchId, batchStatus: batch.status };
    },
    async listDeadLetters(listOptions: { readonly limit?: number } = {}) {
      const limit = integerOption("limit", listOptions.limit, 100, { min: 0 });
      return limit === 0 ? [] : data.deadLetters.slice(-limit).reverse();
    },
    async claimAnchorWork({ owner, limit, leaseMs }): Promise<readonly AnchorWork[]> {
      const now = Date.now();
      const work: AnchorWork[] = [];
      for (const batch of data.batches.values()) {
        if (work.length >= limit) break;
        const state = batch.anchor;
        const due =
          batch.status === "complete" ||
          batch.status === "blockchain_pending" ||
          (batch.status === "failed" && state?.retryAt !== undefined && state.retryAt.getTime() <= now);
        if (!due) continue;
        if (state?.lease && state.lease.owner !== owner && state.lease.until > now) continue;
        const anchor = { failures: 0, ...state, lease: { owner, until: now + leaseMs } };
        data.batches.set(batch.batchId, { ...batch, anchor });
        work.push({ batch: recordOf(batch), attempts: attemptsOf(batch.batchId), failures: anchor.failures });
      }
      return work;
    },
    async releaseAnchorWork(batchId, owner) {
      const batch = data.batches.get(batchId);
      if (batch?.anchor?.lease?.owner !== owner) return;
      const { lease: _lease, ...anchor } = batch.anchor;
      data.batches.set(batchId, { ...batch, anchor });
    },
    async recordAnchorAttempt(attempt) {
      const batch = data.batches.get(attempt.batchId);
      if (!batch) throw new StoreError(`cannot anchor unknown batch ${attempt.batchId}`);
      const retryable = batch.status === "failed" && batch.anchor?.retryAt !== undefined;
      if (!retryable && batch.status !== "complete" && batch.status !== "blockchain_pending")
        throw new StoreError(`cannot anchor batch ${attempt.batchId}: it is ${batch.status}`);
      if (data.anchorAttempts.some((a) => a.signature === attempt.signature && a.batchId === attempt.batchId))
        throw new StoreError(`transaction ${attempt.signature} is already recorded for this batch`);
      data.anchorAttempts.push({
        ...attempt,
        aggregation: attempt.aggregation ?? null,
        status: "pending",
        slot: null,
        feeLamports: null,
        error: null,
        createdAt: new Date(),
        confirmedAt: null,
      });
      data.batches.set(attempt.batchId, {
        ...batch,
        status: "blockchain_pending",
        anchor: { failures: 0, ...batch.anchor, signature: attempt.signature },
      });
    },
    async resolveAnchorAttempt(signature, status, error) {
      let found = false;
      for (const [index, attempt] of data.anchorAttempts.entries()) {
        if (attempt.signature !== signature) continue;
        data.anchorAttempts[index] = { ...attempt, status, error };
        found = true;
      }
      if (!found) throw new StoreError(`unknown transaction ${signature}`);
    },
    async confirmAnchor(batchId, signature, confirmation) {
      const index = data.anchorAttempts.findIndex((a) => a.signature === signature && a.batchId === batchId);
      const batch = data.batches.get(batchId);
      if (index < 0 || !batch) throw new StoreError(`unknown transaction ${signature} of batch ${batchId}`);
      const confirmedAt = new Date();
      data.anchorAttempts[index] = {
        ...data.anchorAttempts[index]!,
        status: "confirmed",
        slot: confirmation.slot,
        feeLamports: confirmation.feeLamports,
        confirmedAt,
      };
      if (batch.status === "blockchain_confirmed") return;
      const { retryAt: _retry, ...anchor } = { failures: 0, ...batch.anchor };
      const { failureReason: _reason, ...rest } = batch;
      data.batches.set(batchId, {
        ...rest,
        status: "blockchain_confirmed",
        anchor: { ...anchor, signature, slot: confirmation.slot, confirmedAt },
      });
    },
    async failAnchor(batchId, reason, retryAt) {
      const batch = data.batches.get(batchId);
      if (!batch) throw new StoreError(`cannot fail unknown batch ${batchId}`);
      if (batch.status === "blockchain_confirmed") return;
      const failures = (batch.anchor?.failures ?? 0) + 1;
      data.batches.set(batchId, {
        ...batch,
        status: "failed",
        failureReason: reason,
        anchor: { ...batch.anchor, failures, retryAt },
      });
    },
    async listAnchorAttempts(batchId) {
      return attemptsOf(batchId);
    },
    async getAnchor(batchId) {
      return anchorOf(batchId);
    },
    async *listAnchors(): AsyncGenerator<AnchoredBatch> {
      for (const batch of [...data.batches.values()]) {
        const anchor = anchorOf(batch.batchId);
        if (anchor?.status !== "blockchain_confirmed") continue;
        yield { ...anchor, batch: recordOf(batch) };
      }
    },
    async close() {},
  });
}
