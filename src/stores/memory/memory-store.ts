import { randomUUID } from "node:crypto";
import { BatchIntegrityError, LifecycleError, StoreError } from "../../errors.js";
import { type Hasher, type InclusionProof, inclusionProofs } from "../../hashing/index.js";
import type { Reading, Rejection } from "../../message/types.js";
import { duplicateKey } from "../duplicate-key.js";
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

/** A batch in a {@link MemoryStoreData}. */
export interface MemoryBatchRow extends BatchRecord {
  /** Why the batch was marked `failed`, if it was. */
  readonly failureReason?: string;
}

/** A stored message in a {@link MemoryStoreData}. */
export interface MemoryMessageRow extends BatchLeaf {
  /** The batch it belongs to. */
  readonly batchId: string;
  /** The reading as decoded. */
  readonly reading: Reading;
  /** When it was committed. */
  readonly processedAt: Date;
}

/** Per-device statistics kept by the memory store (mirrors the seed's `devices` table). */
export interface MemoryDeviceRow {
  /** Device id. */
  readonly deviceId: string;
  /** Tenant id from the topic. */
  readonly tenantId: string;
  /** Site id from the topic. */
  readonly siteId: string;
  /** Latest `receivedAt`. */
  readonly lastSeen: Date;
  /** Messages stored for the device. */
  readonly messageCount: number;
  /** Latest firmware version seen, if any. */
  readonly firmwareVersion: string | undefined;
}

/**
 * Everything a memory store holds. Pass the same data to a new {@link memoryStore} to simulate a
 * restart over the same database.
 */
export interface MemoryStoreData {
  /** Batches by id, with the reason of a failed one. */
  readonly batches: Map<string, MemoryBatchRow>;
  /** Messages by id. */
  readonly messages: Map<string, MemoryMessageRow>;
  /** Message ids by `${messageHash}:${deviceId}` (the de-duplication rule: same device, same hash). */
  readonly messageIdsByHash: Map<string, string>;
  /** Message ids of each batch, in leaf order. */
  readonly leavesByBatch: Map<string, string[]>;
  /** Devices by id. */
  readonly devices: Map<string, MemoryDeviceRow>;
  /** Recorded rejections, oldest first. */
  readonly deadLetters: DeadLetterRecord[];
}

/** Creates empty {@link MemoryStoreData}. */
export function createMemoryStoreData(): MemoryStoreData {
  return {
    batches: new Map(),
    messages: new Map(),
    messageIdsByHash: new Map(),
    leavesByBatch: new Map(),
    devices: new Map(),
    deadLetters: [],
  };
}

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Data to work on; share it between instances to simulate a restart.
   * @defaultValue a new empty {@link MemoryStoreData}
   */
  readonly data?: MemoryStoreData;
  /**
   * Payloads the store refuses (like a database refusing a row), as a predicate; refused readings
   * are dead-lettered with reason `store_refused`. Useful to test a host application's handling.
   * @defaultValue refuses nothing
   */
  readonly refuse?: (reading: Reading) => string | undefined;
  /**
   * Hash primitives for proofs; use the same one as the bridge.
   * @defaultValue `sha256Hasher`
   */
  readonly hasher?: Hasher;
}

/** The in-memory {@link Store}: product code for host-application tests, passing the same conformance suite as PostgreSQL. */
export interface MemoryStore extends Store {
  /** The data it holds (inspect it in tests, or share it with a new instance). */
  readonly data: MemoryStoreData;
  /**
   * Makes the next `count` calls of `append` (or `sealBatch`) fail with `error`, as a lost database
   * connection would: nothing of those calls is written.
   */
  failNext(count: number, error?: Error, operation?: "append" | "sealBatch"): void;
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
  const data = options.data ?? createMemoryStoreData();
  const failures = { append: [] as Error[], sealBatch: [] as Error[] };
  let closed = false;
  const sealedProofs = new Map<string, InclusionProof[]>();

  const assertOpen = (): void => {
    if (closed) throw new LifecycleError("STOPPED", "memory store is closed");
  };
  const takeFailure = (operation: "append" | "sealBatch"): void => {
    const error = failures[operation].shift();
    if (error) throw new StoreError(`memory store: simulated ${operation} failure`, { cause: error });
  };
  const record = (rejection: Rejection): void => {
    data.deadLetters.push({ ...rejection, id: randomUUID() });
  };

  return {
    name: "memory",
    data,
    failNext(count, error = new Error("simulated failure"), operation = "append") {
      for (let i = 0; i < count; i++) failures[operation].push(error);
    },
    async open() {
      assertOpen();
    },
    async loadOpenBatch(): Promise<OpenBatchSnapshot | null> {
      assertOpen();
      for (const batch of data.batches.values()) {
        if (batch.status !== "pending") continue;
        const ids = data.leavesByBatch.get(batch.batchId) ?? [];
        const rows = ids.map((id) => data.messages.get(id)!);
        const payloadBytes = rows.reduce((sum, row) => sum + row.reading.byteLength, 0);
        return { ...batch, leaves: rows.map((row) => row.messageHash), payloadBytes };
      }
      return null;
    },
    async append(request: AppendRequest): Promise<AppendResult> {
      assertOpen();
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
        data.batches.set(plan.batchId, {
          batchId: plan.batchId,
          batchHash: plan.batchHash,
          messageCount: plan.messageCount,
          startTimestamp: plan.startTimestamp,
          endTimestamp: plan.endTimestamp,
          status: "pending",
        });
      }
      for (const rejection of request.rejections) record(rejection);
      for (const rejection of refused) record(rejection);
      return { plan, duplicates, refused };
    },
    async sealBatch(request: SealRequest): Promise<BatchRecord> {
      assertOpen();
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
      const sealed: BatchRecord = { ...batch, status: "complete" };
      data.batches.set(request.batchId, sealed);
      return sealed;
    },
    async failBatch(batchId: string, reason: string) {
      assertOpen();
      const batch = data.batches.get(batchId);
      if (!batch) throw new StoreError(`cannot fail unknown batch ${batchId}`);
      data.batches.set(batchId, { ...batch, status: "failed", failureReason: reason });
    },
    async getBatch(batchId: string) {
      assertOpen();
      const batch = data.batches.get(batchId);
      if (!batch) return null;
      const { failureReason: _ignored, ...record } = batch;
      return record;
    },
    async getBatchLeaves(batchId: string) {
      assertOpen();
      return (data.leavesByBatch.get(batchId) ?? []).map((id) => {
        const row = data.messages.get(id)!;
        return { messageId: row.messageId, leafIndex: row.leafIndex, messageHash: row.messageHash };
      });
    },
    async getProof(messageId: string): Promise<MessageProof | null> {
      assertOpen();
      const row = data.messages.get(messageId);
      if (!row) return null;
      const batch = data.batches.get(row.batchId)!;
      let proofs = sealedProofs.get(row.batchId);
      if (!proofs) {
        const hashes = (data.leavesByBatch.get(row.batchId) ?? []).map(
          (id) => data.messages.get(id)!.messageHash,
        );
        proofs = inclusionProofs(hashes, options.hasher);
        if (batch.status !== "pending") sealedProofs.set(row.batchId, proofs);
      }
      const proof = proofs[row.leafIndex]!;
      return { ...proof, root: batch.batchHash, messageId, batchId: row.batchId, batchStatus: batch.status };
    },
    async listDeadLetters(listOptions = {}) {
      assertOpen();
      const limit = Math.max(0, listOptions.limit ?? 100);
      return limit === 0 ? [] : data.deadLetters.slice(-limit).reverse();
    },
    async close() {
      closed = true;
    },
  };
}
