import { EventEmitter } from "eventemitter3";
import { Batcher, type FlushReason, systemClock } from "../batching/index.js";
import { BatchIntegrityError, LifecycleError, SourceError, StoreError, VeepBridgeError } from "../errors.js";
import type { BatchSealedEvent, BridgeEvents, SealReason } from "../events.js";
import { hashCanonicalJson } from "../hashing/index.js";
import { createDecoder, type Decoder } from "../message/index.js";
import type { DecodeResult, Reading, Rejection } from "../message/types.js";
import type { SourceMessage } from "../sources/source.js";
import type { AppendRequest, AppendResult } from "../stores/store.js";
import { backoffDelay } from "./backoff.js";
import { OpenBatch } from "./open-batch.js";
import { type BridgeOptions, type ResolvedBridgeOptions, resolveBridgeOptions } from "./options.js";
import { SerialQueue } from "./serial-queue.js";

/** An eventemitter3 emitter typed by an event map (event name → listener signature). */
export type TypedEventEmitter<Events extends object> = InstanceType<typeof EventEmitter<Events>>;

/** Lifecycle states of a {@link Bridge}. */
export type BridgeState = "idle" | "starting" | "running" | "stopping" | "stopped";

/** Options of {@link Bridge.stop}. */
export interface StopOptions {
  /**
   * Commit (and acknowledge) everything already received before stopping. With `false`, buffered
   * messages are left unacknowledged: the source delivers them again after a restart.
   * @defaultValue true
   */
  readonly drain?: boolean;
  /**
   * Also seal the open batch. Without it, the open batch stays `pending` and the next start resumes it.
   * @defaultValue false
   */
  readonly seal?: boolean;
  /**
   * Give up draining after this many milliseconds (e.g. while the store is unreachable): what is
   * not committed by then stays unacknowledged and is delivered again after a restart.
   * @defaultValue no limit
   */
  readonly timeoutMs?: number;
}

/** Counters since start, for status lines and metrics. */
export interface BridgeStats {
  /** Messages received from the source. */
  readonly received: number;
  /** Messages newly stored. */
  readonly stored: number;
  /** Redelivered messages recognised as already stored. */
  readonly duplicates: number;
  /** Payloads rejected (decoder or store). */
  readonly rejected: number;
  /** Batches sealed. */
  readonly sealedBatches: number;
  /** Messages waiting in the write buffer. */
  readonly buffered: number;
  /** Leaves in the open batch. */
  readonly openBatchSize: number;
  /** Id of the open batch. */
  readonly openBatchId: string | undefined;
  /** The last sealed batch, if any. */
  readonly lastSealed: BatchSealedEvent | undefined;
}

/**
 * A running pipeline from a {@link Source} to a {@link Store}: decode, hash, commit, acknowledge,
 * seal. Create it with {@link createBridge}; listen to its {@link BridgeEvents}.
 */
export interface Bridge extends TypedEventEmitter<BridgeEvents> {
  /** Current lifecycle state. */
  readonly state: BridgeState;
  /** Opens the store, resumes its open batch, starts the source. Calling it again returns the same promise. */
  start(): Promise<void>;
  /** Stops the source, drains (by default) and closes the store. Idempotent: later calls return the first promise. */
  stop(options?: StopOptions): Promise<void>;
  /** Commits everything received so far and seals the open batch now; resolves with the sealed batch, if any. */
  flush(): Promise<BatchSealedEvent | null>;
  /** Counters since start. */
  stats(): BridgeStats;
  /** Same as `stop({ drain: true })`, for `await using bridge = createBridge(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface Pending {
  readonly message: SourceMessage;
  readonly result: DecodeResult;
  readonly bytes: number;
}

interface Leaf {
  readonly messageHash: string;
  readonly bytes: number;
}

type PauseReason = "backpressure" | "retry";

const SEAL_REASONS: Record<FlushReason, SealReason> = {
  maxItems: "maxMessages",
  maxBytes: "maxBytes",
  maxAge: "maxAge",
  predicate: "predicate",
  manual: "manual",
};

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

class BridgeImpl extends EventEmitter<BridgeEvents> implements Bridge {
  readonly #options: ResolvedBridgeOptions;
  readonly #decoder: Decoder;
  readonly #queue = new SerialQueue();
  readonly #writeBuffer: Batcher<Pending>;
  #sealer: Batcher<Leaf>;
  readonly #pauses = new Set<PauseReason>();
  readonly #abort = new AbortController();
  #batch: OpenBatch;
  #state: BridgeState = "idle";
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #overflowReported = false;
  #counters = { received: 0, stored: 0, duplicates: 0, rejected: 0, sealedBatches: 0 };
  #lastSealed: BatchSealedEvent | undefined;

  constructor(options: BridgeOptions) {
    super();
    this.#options = resolveBridgeOptions(options);
    const { hasher } = this.#options;
    this.#decoder = createDecoder({
      ...(this.#options.topic !== undefined ? { topic: this.#options.topic } : {}),
      ...(this.#options.maxPayloadBytes !== undefined
        ? { maxPayloadBytes: this.#options.maxPayloadBytes }
        : {}),
      ...(this.#options.validate !== undefined ? { validate: this.#options.validate } : {}),
      ...(hasher ? { hashCanonicalJson: (canonical: string) => hashCanonicalJson(canonical, hasher) } : {}),
    });
    this.#batch = this.#newBatch();
    const clock = this.#options.clock ?? systemClock;
    const { writeBuffer } = this.#options;
    this.#writeBuffer = new Batcher<Pending>({
      policy: { maxItems: writeBuffer.maxMessages, maxAgeMs: writeBuffer.maxDelayMs },
      capacity: writeBuffer.capacity * 2,
      sizeOf: (item) => item.bytes,
      clock,
      onFlush: (items) => this.#commit(items),
      onError: (error) => this.#emitError(new StoreError("write-buffer flush failed", { cause: error })),
    });
    this.#sealer = this.#createSealer(this.#batch.batchId);
  }

  /**
   * One Batcher per open batch, bound to its id: its flush policy (count, bytes, age, predicate)
   * decides when that batch is sealed; a flush of a batcher whose batch is gone is a no-op.
   */
  #createSealer(batchId: string): Batcher<Leaf> {
    const { batch } = this.#options;
    const shouldSeal = batch.shouldSeal;
    return new Batcher<Leaf>({
      policy: {
        maxItems: batch.maxMessages,
        maxAgeMs: batch.maxAgeMs,
        ...(batch.maxBytes !== undefined ? { maxBytes: batch.maxBytes } : {}),
        ...(shouldSeal
          ? {
              shouldFlush: () =>
                shouldSeal({
                  batchId: this.#batch.batchId,
                  messageCount: this.#batch.messageCount,
                  bytes: this.#batch.bytes,
                  ageMs: this.#batchAgeMs(),
                }),
            }
          : {}),
      },
      capacity: batch.maxMessages,
      sizeOf: (leaf) => leaf.bytes,
      clock: this.#options.clock ?? systemClock,
      onFlush: (_leaves, reason) =>
        this.#queue.run(() => this.#sealNow(batchId, SEAL_REASONS[reason])).then(() => undefined),
      onError: (error) => this.#emitError(asError(error)),
    });
  }

  #setBatch(batch: OpenBatch): void {
    const previous = this.#sealer;
    this.#batch = batch;
    this.#sealer = this.#createSealer(batch.batchId);
    void previous.close().catch(() => undefined);
  }

  get state(): BridgeState {
    return this.#state;
  }

  start(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") {
      return Promise.reject(new LifecycleError("STOPPED", "this bridge was stopped; create a new one"));
    }
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.#stopPromise ??= this.#stop(options.drain ?? true, options.seal ?? false, options.timeoutMs);
    return this.#stopPromise;
  }

  async flush(): Promise<BatchSealedEvent | null> {
    if (this.#state !== "running") {
      throw new LifecycleError("NOT_STARTED", `flush() needs a running bridge (state: ${this.#state})`);
    }
    await this.#writeBuffer.flush();
    const batchId = this.#batch.batchId;
    return this.#queue.run(() => this.#sealNow(batchId, "manual"));
  }

  stats(): BridgeStats {
    return {
      ...this.#counters,
      buffered: this.#writeBuffer.size,
      openBatchSize: this.#batch.messageCount,
      openBatchId: this.#batch.messageCount > 0 ? this.#batch.batchId : undefined,
      lastSealed: this.#lastSealed,
    };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop({ drain: true });
  }

  async #start(): Promise<void> {
    this.#state = "starting";
    const { source, store } = this.#options;
    try {
      await store.open();
      await this.#resume();
      await source.start({
        topicFilter: this.#decoder.topicPattern.filter,
        handlers: {
          message: (message) => this.#onMessage(message),
          status: (status) => {
            this.emit("source", status);
            if (status.state === "error" && status.error) {
              this.#emitError(
                new SourceError(`${source.name} source: ${status.error.message}`, { cause: status.error }),
              );
            }
          },
        },
      });
    } catch (error) {
      this.#state = "stopped";
      await Promise.allSettled([source.stop(), store.close()]);
      throw error instanceof VeepBridgeError
        ? error
        : new StoreError(`bridge failed to start: ${asError(error).message}`, { cause: error });
    }
    this.#state = "running";
    this.emit("started");
  }

  async #resume(): Promise<void> {
    const { store, hasher, batch: policy } = this.#options;
    const snapshot = await store.loadOpenBatch();
    if (!snapshot) return;
    const resumed = OpenBatch.fromSnapshot(snapshot, hasher);
    const problem =
      resumed.messageCount !== snapshot.messageCount
        ? `stored message_count ${snapshot.messageCount} but ${resumed.messageCount} leaves`
        : resumed.batchHash !== snapshot.batchHash
          ? `stored batch_hash ${snapshot.batchHash} but its leaves give ${resumed.batchHash}`
          : undefined;
    if (problem) {
      await store.failBatch(snapshot.batchId, problem);
      this.emit("batch:failed", { batchId: snapshot.batchId, reason: problem });
      this.#emitError(
        new BatchIntegrityError(
          snapshot.batchId,
          `open batch ${snapshot.batchId} failed its check: ${problem}`,
        ),
      );
      return;
    }
    this.#setBatch(resumed);
    this.emit("batch:opened", {
      batchId: resumed.batchId,
      startTimestamp: snapshot.startTimestamp,
      resumed: true,
    });
    const ageMs = Date.now() - snapshot.startTimestamp.getTime();
    if (resumed.messageCount >= policy.maxMessages || ageMs >= policy.maxAgeMs) {
      await this.#sealNow(
        resumed.batchId,
        resumed.messageCount >= policy.maxMessages ? "maxMessages" : "maxAge",
      );
      return;
    }
    for (const messageHash of snapshot.leaves) this.#sealer.add({ messageHash, bytes: 0 });
  }

  #onMessage(message: SourceMessage): void {
    // Late deliveries while stopping stay unacknowledged: the source delivers them again next time.
    if (this.#state !== "running" && this.#state !== "starting") return;
    this.#counters.received++;
    const bytes = message.payload.byteLength;
    if (this.listenerCount("received") > 0) {
      this.emit("received", { topic: message.topic, bytes, receivedAt: message.receivedAt });
    }
    const result = this.#decoder.decode(message);
    if (!this.#writeBuffer.add({ message, result, bytes })) {
      if (!this.#overflowReported) {
        this.#overflowReported = true;
        this.#emitError(
          new VeepBridgeError(
            "BACKPRESSURE",
            `source ${this.#options.source.name} kept delivering while paused; messages beyond the write buffer are left unacknowledged for redelivery`,
          ),
        );
      }
      return;
    }
    const { capacity } = this.#options.writeBuffer;
    if (this.#writeBuffer.size >= capacity && !this.#pauses.has("backpressure")) {
      this.#pause("backpressure");
      this.emit("backpressure", { buffered: this.#writeBuffer.size, capacity });
    }
  }

  #pause(reason: PauseReason): void {
    const wasPaused = this.#pauses.size > 0;
    this.#pauses.add(reason);
    if (!wasPaused) this.#options.source.pause();
  }

  #unpause(reason: PauseReason): void {
    if (!this.#pauses.delete(reason)) return;
    if (this.#pauses.size === 0 && this.#state === "running") this.#options.source.resume();
  }

  #afterFlush(): void {
    const { capacity } = this.#options.writeBuffer;
    if (this.#pauses.has("backpressure") && this.#writeBuffer.size <= capacity / 2) {
      this.#overflowReported = false;
      this.#unpause("backpressure");
      this.emit("drain", { buffered: this.#writeBuffer.size, capacity });
    }
  }

  async #commit(items: Pending[]): Promise<void> {
    let rest = items;
    while (rest.length > 0) {
      const done = rest;
      rest = await this.#queue.run(() => this.#commitChunk(done));
    }
    this.#afterFlush();
  }

  /** Appends as many of `items` as fit the open batch; returns the rest. Runs inside the queue. */
  async #commitChunk(items: Pending[]): Promise<Pending[]> {
    const { maxMessages, maxBytes } = this.#options.batch;
    if (
      this.#batch.messageCount >= maxMessages ||
      (maxBytes !== undefined && this.#batch.bytes >= maxBytes)
    ) {
      await this.#sealNow(
        this.#batch.batchId,
        this.#batch.messageCount >= maxMessages ? "maxMessages" : "maxBytes",
      );
    }
    const room = maxMessages - this.#batch.messageCount;
    let roomBytes = maxBytes === undefined ? Number.POSITIVE_INFINITY : maxBytes - this.#batch.bytes;
    const readings: Reading[] = [];
    const rejections: Rejection[] = [];
    const seen = new Set<string>();
    const localDuplicates: Reading[] = [];
    let taken = 0;
    for (const item of items) {
      if (item.result.ok) {
        const reading = item.result.reading;
        if (seen.has(reading.messageHash)) {
          localDuplicates.push(reading);
        } else {
          if (readings.length >= room || (readings.length > 0 && reading.byteLength > roomBytes)) break;
          seen.add(reading.messageHash);
          readings.push(reading);
          roomBytes -= reading.byteLength;
        }
      } else {
        rejections.push(item.result.rejection);
      }
      taken++;
    }
    const chunk = items.slice(0, taken);
    const started = Date.now();
    const result = await this.#appendWithRetry(this.#batch.request(readings, rejections));
    this.#applyResult(result, rejections.length, localDuplicates.length, Date.now() - started);
    for (const item of chunk) item.message.ack();
    return items.slice(taken);
  }

  #applyResult(
    result: AppendResult,
    decoderRejections: number,
    localDuplicates: number,
    durationMs: number,
  ): void {
    const batch = this.#batch;
    const opens = result.plan?.createsBatch === true;
    if (result.plan) batch.apply(result.plan);
    const stored = result.plan?.leaves.length ?? 0;
    const duplicates = result.duplicates.length + localDuplicates;
    const rejected = decoderRejections + result.refused.length;
    this.#counters.stored += stored;
    this.#counters.duplicates += duplicates;
    this.#counters.rejected += rejected;
    if (opens && result.plan) {
      this.emit("batch:opened", {
        batchId: batch.batchId,
        startTimestamp: result.plan.startTimestamp,
        resumed: false,
      });
    }
    this.emit("stored", {
      batchId: batch.batchId,
      stored,
      duplicates,
      rejected,
      batchSize: batch.messageCount,
      batchHash: batch.batchHash,
      durationMs,
    });
    if (result.plan) {
      for (const leaf of result.plan.leaves) {
        this.#sealer.add({ messageHash: leaf.reading.messageHash, bytes: leaf.reading.byteLength });
      }
    }
  }

  #emitRejections(rejections: readonly Rejection[]): void {
    if (this.listenerCount("rejected") === 0) return;
    for (const r of rejections) this.emit("rejected", { topic: r.topic, reason: r.reason, detail: r.detail });
  }

  async #appendWithRetry(request: AppendRequest): Promise<AppendResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#options.store.append(request);
        this.#unpause("retry");
        this.#emitRejections(request.rejections);
        this.#emitRejections(result.refused);
        return result;
      } catch (error) {
        if (error instanceof BatchIntegrityError) throw error;
        await this.#waitToRetry("append", attempt, error);
      }
    }
  }

  async #waitToRetry(operation: "append" | "seal", attempt: number, error: unknown): Promise<void> {
    if (this.#abort.signal.aborted) {
      throw new LifecycleError("STOPPED", `bridge stopped while retrying ${operation}`, { cause: error });
    }
    this.#pause("retry");
    const delayMs = backoffDelay(attempt, this.#options.retry);
    const failure = asError(error);
    this.emit("retry", { operation, attempt, delayMs, error: failure });
    this.#emitError(
      error instanceof VeepBridgeError
        ? error
        : new StoreError(
            `${operation} failed (attempt ${attempt}), retrying in ${delayMs} ms: ${failure.message}`,
            {
              cause: error,
            },
          ),
    );
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delayMs);
      timer.unref?.();
      this.#abort.signal.addEventListener("abort", done, { once: true });
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    if (this.#abort.signal.aborted) {
      throw new LifecycleError("STOPPED", `bridge stopped while retrying ${operation}`, { cause: error });
    }
  }

  /** Seals the open batch if it is still `batchId` and has leaves. Runs inside the queue. */
  async #sealNow(batchId: string, reason: SealReason): Promise<BatchSealedEvent | null> {
    const batch = this.#batch;
    if (batch.batchId !== batchId || batch.messageCount === 0) return null;
    const request = { batchId, batchHash: batch.batchHash, messageCount: batch.messageCount };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.store.sealBatch(request);
        this.#unpause("retry");
        break;
      } catch (error) {
        if (error instanceof BatchIntegrityError) throw error;
        await this.#waitToRetry("seal", attempt, error);
      }
    }
    this.#setBatch(this.#newBatch());
    const event: BatchSealedEvent = {
      batchId,
      batchHash: request.batchHash,
      messageCount: request.messageCount,
      startTimestamp: batch.startTimestamp!,
      endTimestamp: batch.endTimestamp!,
      reason,
    };
    this.#counters.sealedBatches++;
    this.#lastSealed = event;
    this.emit("batch:sealed", event);
    return event;
  }

  #batchAgeMs(): number {
    const start = this.#batch.startTimestamp;
    return start ? Date.now() - start.getTime() : 0;
  }

  #newBatch(): OpenBatch {
    return new OpenBatch(this.#options.hasher ? { hasher: this.#options.hasher } : {});
  }

  #emitError(error: Error): void {
    const wrapped =
      error instanceof VeepBridgeError ? error : new StoreError(error.message, { cause: error });
    this.emit("error", wrapped);
  }

  async #stop(drain: boolean, seal: boolean, timeoutMs: number | undefined): Promise<void> {
    if (this.#startPromise) await this.#startPromise.catch(() => undefined);
    if (this.#state === "stopped") {
      this.emit("stopped");
      return;
    }
    const wasRunning = this.#state === "running";
    this.#state = "stopping";
    const { source, store } = this.#options;
    if (wasRunning) source.pause();
    if (!drain) this.#abort.abort();
    const deadline =
      timeoutMs === undefined ? undefined : setTimeout(() => this.#abort.abort(), Math.max(0, timeoutMs));
    deadline?.unref?.();
    try {
      if (wasRunning && drain) {
        await this.#writeBuffer.flush();
        if (seal) {
          const batchId = this.#batch.batchId;
          await this.#queue.run(() => this.#sealNow(batchId, "stop"));
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) throw error;
    } finally {
      clearTimeout(deadline);
      this.#abort.abort();
      await this.#writeBuffer.close().catch(() => undefined);
      this.#setBatch(this.#newBatch());
      await this.#sealer.close();
      await this.#queue.idle();
      const results = await Promise.allSettled([source.stop(), store.close()]);
      this.#state = "stopped";
      for (const r of results) if (r.status === "rejected") this.#emitError(asError(r.reason));
      this.emit("stopped");
    }
  }
}

/**
 * Creates a bridge from a source to a store. Options are validated at once; nothing starts until
 * {@link Bridge.start}.
 *
 * @example
 * ```ts
 * import { createBridge, memorySource, memoryStore } from "veep-bridge";
 *
 * const bridge = createBridge({
 *   source: memorySource(),
 *   store: memoryStore(),
 *   batch: { maxMessages: 1000, maxAgeMs: 300_000 },
 * });
 * bridge.on("batch:sealed", (b) => console.log(b.batchId, b.batchHash, b.messageCount));
 * await bridge.start();
 * ```
 */
export function createBridge(options: BridgeOptions): Bridge {
  return new BridgeImpl(options);
}
