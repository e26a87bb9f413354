import { sealDue, type TimerHandle } from "../batching/index.js";
import { BatchIntegrityError } from "../errors.js";
import type { BatchSealedEvent, SealReason } from "../events.js";
import type { BatchAppendPlan, BatchRecord, OpenBatchSnapshot } from "../stores/store.js";
import type { BridgeContext } from "./context.js";
import { OpenBatch } from "./open-batch.js";
import { waitToRetry } from "./retry.js";

/** What {@link Sealer.resync} found the store holding beyond what the bridge knew. */
export interface Resynced {
  /** Hashes of messages committed into the open batch by a call whose reply was lost. */
  readonly hashes: ReadonlySet<string>;
  /** Messages committed by such a call into a batch that it also sealed. */
  readonly sealedBehind: number;
}

/** Checks a stored open batch against its leaves; returns what does not match, if anything. */
function integrityProblem(snapshot: OpenBatchSnapshot, rebuilt: OpenBatch): string | undefined {
  if (rebuilt.messageCount !== snapshot.messageCount) {
    return `stored message_count ${snapshot.messageCount} but ${rebuilt.messageCount} leaves`;
  }
  if (rebuilt.batchHash !== snapshot.batchHash) {
    return `stored batch_hash ${snapshot.batchHash} but its leaves give ${rebuilt.batchHash}`;
  }
  return undefined;
}

/**
 * Keeps the open batch: adopts it from the store on start (after checking its root), moves it
 * forward by committed plans, and seals it when {@link sealDue} says so: after each commit, on
 * resume, and from one `unref`'d age timer armed from the batch's first message. Every store call
 * runs inside the bridge's queue (the caller's job).
 */
export class Sealer {
  readonly #context: BridgeContext;
  #batch: OpenBatch;
  #ageTimer: TimerHandle | undefined;
  #lastSealed: BatchSealedEvent | undefined;

  /** @param context - the bridge's shared parts */
  constructor(context: BridgeContext) {
    this.#context = context;
    this.#batch = this.#fresh();
  }

  /** The open batch. */
  get batch(): OpenBatch {
    return this.#batch;
  }

  /** Readings the open batch can still take before it must be sealed (at least 1). */
  room(): number {
    return Math.max(1, this.#context.options.batch.maxMessages - this.#batch.messageCount);
  }

  /** The last batch sealed since start. */
  get lastSealed(): BatchSealedEvent | undefined {
    return this.#lastSealed;
  }

  /** Continues the store's open batch (after checking it), sealing it at once if it is due. */
  async resume(): Promise<void> {
    const snapshot = await this.#context.store.loadOpenBatch(this.#owner);
    if (!snapshot || !(await this.#adopt(snapshot))) return;
    this.#context.events.emit("batch:opened", {
      batchId: snapshot.batchId,
      startTimestamp: snapshot.startTimestamp,
      resumed: true,
    });
    await this.sealIfDue();
  }

  /**
   * After a failed store call the store may have committed it anyway (the reply was lost) or moved
   * on: brings the open batch in line with what the store holds. Returns the message hashes the
   * store holds beyond what the bridge knew, and how many more it holds in a batch that such a
   * commit also sealed (their hashes unread; the batch is reported sealed).
   */
  async resync(): Promise<Resynced> {
    const snapshot = await this.#context.store.loadOpenBatch(this.#owner);
    const current = this.#batch;
    const none: Resynced = { hashes: new Set(), sealedBehind: 0 };
    if (snapshot?.batchId !== current.batchId) {
      const stored = await this.#context.store.getBatch(current.batchId);
      if (stored?.status === "complete" && stored.messageCount >= current.messageCount) {
        this.#closedAs(stored, "maxMessages");
        if (snapshot) await this.#adopt(snapshot);
        return { hashes: new Set(), sealedBehind: stored.messageCount - current.messageCount };
      }
    }
    if (!snapshot) {
      if (current.messageCount > 0) this.#replace(this.#fresh());
      return none;
    }
    const same = snapshot.batchId === current.batchId;
    if (same && snapshot.messageCount === current.messageCount && snapshot.batchHash === current.batchHash) {
      return none;
    }
    const adopted = await this.#adopt(snapshot);
    if (adopted && same && snapshot.messageCount > current.messageCount) {
      return { hashes: new Set(snapshot.leaves.slice(current.messageCount)), sealedBehind: 0 };
    }
    return none;
  }

  /**
   * Moves the open batch forward by a plan the store committed; `sealed` when the store also sealed
   * the batch in that commit (the append's `sealAt` was reached).
   */
  applied(plan: BatchAppendPlan, sealed: boolean): void {
    this.#batch.apply(plan);
    if (plan.createsBatch) {
      this.#armAgeTimer();
      this.#context.events.emit("batch:opened", {
        batchId: plan.batchId,
        startTimestamp: plan.startTimestamp,
        resumed: false,
      });
    }
    if (sealed) this.#closed("maxMessages");
  }

  /**
   * Seals the open batch if it is due; with `nextBytes`, also when it cannot take a reading of that
   * size. A throwing `shouldSeal` is reported and counts as "not due".
   */
  async sealIfDue(nextBytes?: number): Promise<void> {
    let reason: SealReason | undefined;
    try {
      reason = sealDue(this.#batch, this.#context.options.batch, this.#context.clock.now(), nextBytes);
    } catch (error) {
      this.#context.events.error(error);
      return;
    }
    if (reason) await this.seal(reason);
  }

  /**
   * Seals the open batch (if it still is `batchId` and has leaves) with its running root, retrying
   * until the store confirms; then a fresh batch is open.
   */
  async seal(reason: SealReason, batchId = this.#batch.batchId): Promise<BatchSealedEvent | null> {
    const batch = this.#batch;
    if (batch.batchId !== batchId || batch.messageCount === 0) return null;
    const request = { batchId, batchHash: batch.batchHash, messageCount: batch.messageCount };
    const { store } = this.#context;
    for (let attempt = 1; ; attempt++) {
      try {
        await store.sealBatch(request);
        break;
      } catch (error) {
        await waitToRetry(this.#context, "seal", attempt, error);
        // The seal may have committed with its reply lost, or the batch may have been failed meanwhile.
        const stored = await store.getBatch(batchId).catch(() => undefined);
        if (stored && stored.status !== "pending") {
          if (stored.status === "complete" && stored.batchHash === request.batchHash) break;
          this.#replace(this.#fresh());
          return null;
        }
      }
    }
    return this.#closed(reason);
  }

  /** The open batch is sealed in the store: report it and open a fresh one. */
  #closed(reason: SealReason): BatchSealedEvent {
    const batch = this.#batch;
    return this.#closedAs(
      {
        batchId: batch.batchId,
        batchHash: batch.batchHash,
        messageCount: batch.messageCount,
        startTimestamp: batch.startTimestamp!,
        endTimestamp: batch.endTimestamp!,
      },
      reason,
    );
  }

  /** Reports a sealed batch as the store holds it, and opens a fresh one. */
  #closedAs(
    record: Pick<BatchRecord, "batchId" | "batchHash" | "messageCount" | "startTimestamp" | "endTimestamp">,
    reason: SealReason,
  ): BatchSealedEvent {
    this.#replace(this.#fresh());
    const event: BatchSealedEvent = {
      batchId: record.batchId,
      batchHash: record.batchHash,
      messageCount: record.messageCount,
      startTimestamp: record.startTimestamp,
      endTimestamp: record.endTimestamp,
      reason,
    };
    this.#context.counters.sealedBatches++;
    this.#lastSealed = event;
    this.#context.events.emit("batch:sealed", event);
    return event;
  }

  /** Stops the age timer. */
  dispose(): void {
    if (this.#ageTimer !== undefined) this.#context.clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = undefined;
  }

  /** Makes a stored open batch ours if its root matches its leaves; otherwise marks it failed. */
  async #adopt(snapshot: OpenBatchSnapshot): Promise<boolean> {
    const rebuilt = OpenBatch.fromSnapshot(snapshot, this.#context.hasher, this.#owner);
    const problem = integrityProblem(snapshot, rebuilt);
    if (problem) {
      await this.#context.store.failBatch(snapshot.batchId, problem);
      this.#replace(this.#fresh());
      this.#context.events.emit("batch:failed", { batchId: snapshot.batchId, reason: problem });
      this.#context.events.error(
        new BatchIntegrityError(
          snapshot.batchId,
          `open batch ${snapshot.batchId} failed its check: ${problem}`,
        ),
      );
      return false;
    }
    this.#replace(rebuilt);
    this.#armAgeTimer();
    return true;
  }

  #replace(batch: OpenBatch): void {
    this.dispose();
    this.#batch = batch;
  }

  #armAgeTimer(): void {
    const { clock, options, queue, signal, events } = this.#context;
    const start = this.#batch.startTimestamp;
    if (start === undefined || this.#ageTimer !== undefined) return;
    const { batchId } = this.#batch;
    const dueIn = Math.max(0, start.getTime() + options.batch.maxAgeMs - clock.now());
    this.#ageTimer = clock.setTimeout(() => {
      this.#ageTimer = undefined;
      queue
        .run(async () => {
          if (this.#batch.batchId !== batchId) return;
          await this.sealIfDue();
          if (this.#batch.batchId === batchId) this.#armAgeTimer();
        })
        .catch((error: unknown) => {
          if (!signal.aborted) events.error(error);
        });
    }, dueIn);
  }

  get #owner(): string | undefined {
    return this.#context.options.batch.owner;
  }

  #fresh(): OpenBatch {
    const owner = this.#owner;
    return new OpenBatch({ hasher: this.#context.hasher, ...(owner !== undefined ? { owner } : {}) });
  }
}
