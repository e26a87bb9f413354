import { randomUUID } from "node:crypto";
import { IncrementalMerkleTree } from "../hashing/index.js";
import type { Hasher } from "../hashing/types.js";
import type { Reading, Rejection } from "../message/types.js";
import type { AppendRequest, BatchAppendPlan, OpenBatchSnapshot, PlannedLeaf } from "../stores/store.js";

/**
 * The batch currently accumulating messages: its id, leaf count, time span and running Merkle
 * root. Plans appends without changing itself; {@link OpenBatch.apply} moves it forward once the
 * store committed a plan.
 *
 * @remarks Store authors meet it through {@link AppendRequest.plan}; tests of custom stores can
 * use it to build requests.
 *
 * @example
 * ```ts
 * const batch = new OpenBatch();
 * const result = await store.append(batch.request(readings, []));
 * if (result.plan) batch.apply(result.plan);
 * ```
 */
export class OpenBatch {
  /** Batch UUID. */
  readonly batchId: string;
  #tree: IncrementalMerkleTree;
  #startTimestamp: Date | undefined;
  #endTimestamp: Date | undefined;
  #bytes = 0;
  readonly #plannedTrees = new WeakMap<BatchAppendPlan, IncrementalMerkleTree>();

  /** The bridge writing this batch, passed on in every {@link AppendRequest}. */
  readonly owner: string | undefined;

  /**
   * @param options - `batchId` (default: a new UUID), `hasher` (default SHA-256) and `owner`
   */
  constructor(
    options: { readonly batchId?: string; readonly hasher?: Hasher; readonly owner?: string } = {},
  ) {
    this.batchId = options.batchId ?? randomUUID();
    this.owner = options.owner;
    this.#tree = new IncrementalMerkleTree(options.hasher);
  }

  /**
   * Rebuilds the open batch from a store snapshot (restart). The caller checks
   * {@link OpenBatch.batchHash} against `snapshot.batchHash`.
   */
  static fromSnapshot(snapshot: OpenBatchSnapshot, hasher?: Hasher, owner?: string): OpenBatch {
    const batch = new OpenBatch({
      batchId: snapshot.batchId,
      ...(hasher ? { hasher } : {}),
      ...(owner !== undefined ? { owner } : {}),
    });
    batch.#tree = IncrementalMerkleTree.fromMessageHashes(snapshot.leaves, hasher);
    batch.#startTimestamp = snapshot.startTimestamp;
    batch.#endTimestamp = snapshot.endTimestamp;
    batch.#bytes = snapshot.payloadBytes ?? 0;
    return batch;
  }

  /** Committed leaves. */
  get messageCount(): number {
    return this.#tree.size;
  }

  /** Payload bytes of the committed leaves (after a resume: as far as the store reported them). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Running hex root of the committed leaves. */
  get batchHash(): string {
    return this.#tree.rootHex();
  }

  /** First `receivedAt`, once the batch has messages. */
  get startTimestamp(): Date | undefined {
    return this.#startTimestamp;
  }

  /** Latest `receivedAt`, once the batch has messages. */
  get endTimestamp(): Date | undefined {
    return this.#endTimestamp;
  }

  /** Lays out `fresh` as the next leaves, without changing the batch. */
  plan(fresh: readonly Reading[]): BatchAppendPlan {
    const tree = this.#tree.clone();
    const first = tree.size;
    let start = this.#startTimestamp;
    let end = this.#endTimestamp;
    const leaves: PlannedLeaf[] = new Array(fresh.length);
    for (let i = 0; i < fresh.length; i++) {
      const reading = fresh[i]!;
      tree.appendMessageHash(reading.messageHash);
      leaves[i] = { reading, leafIndex: first + i };
      if (start === undefined || reading.receivedAt < start) start = reading.receivedAt;
      if (end === undefined || reading.receivedAt > end) end = reading.receivedAt;
    }
    const now = new Date();
    const plan: BatchAppendPlan = {
      batchId: this.batchId,
      createsBatch: first === 0,
      leaves,
      messageCount: tree.size,
      batchHash: tree.rootHex(),
      startTimestamp: start ?? now,
      endTimestamp: end ?? now,
    };
    this.#plannedTrees.set(plan, tree);
    return plan;
  }

  /** Moves the batch forward by a committed plan; throws if the plan was made from another state. */
  apply(plan: BatchAppendPlan): void {
    if (plan.batchId !== this.batchId)
      throw new Error(`plan for batch ${plan.batchId} applied to ${this.batchId}`);
    const first = plan.leaves[0]?.leafIndex ?? this.#tree.size;
    if (first !== this.#tree.size) {
      throw new Error(`plan starts at leaf ${first} but batch ${this.batchId} has ${this.#tree.size} leaves`);
    }
    const planned = this.#plannedTrees.get(plan);
    if (planned && planned.size === plan.messageCount) {
      this.#tree = planned;
    } else {
      for (const leaf of plan.leaves) this.#tree.appendMessageHash(leaf.reading.messageHash);
    }
    for (const leaf of plan.leaves) this.#bytes += leaf.reading.byteLength;
    this.#startTimestamp = plan.startTimestamp;
    this.#endTimestamp = plan.endTimestamp;
  }

  /**
   * An {@link AppendRequest} for these readings and rejections, planned against this batch; with
   * `sealAt`, the store may seal the batch in the same commit once it holds that many messages.
   */
  request(readings: readonly Reading[], rejections: readonly Rejection[], sealAt?: number): AppendRequest {
    const request: AppendRequest = {
      batchId: this.batchId,
      readings,
      rejections,
      plan: (fresh) => this.plan(fresh),
      ...(this.owner !== undefined ? { owner: this.owner } : {}),
    };
    return sealAt === undefined ? request : { ...request, sealAt };
  }
}
