import { EventEmitter } from "eventemitter3";
import { Batcher, type Clock, type FlushReason, systemClock, type TimerHandle } from "../batching/index.js";
import { BatchIntegrityError, LifecycleError, SourceError, StoreError, VeepBridgeError } from "../errors.js";
import type { BatchSealedEvent, BridgeEvents, SealReason } from "../events.js";
import { hashCanonicalJson } from "../hashing/index.js";
import { createDecoder, type Decoder } from "../message/index.js";
import type { DecodeResult, Reading, Rejection } from "../message/types.js";
import type { SourceMessage } from "../sources/source.js";
import { duplicateKey } from "../stores/duplicate-key.js";
import type { AppendResult, OpenBatchSnapshot } from "../stores/store.js";
import { backoffDelay } from "./backoff.js";
import { Deadline } from "./deadline.js";
import { OpenBatch } from "./open-batch.js";
import { type BridgeOptions, type ResolvedBridgeOptions, resolveBridgeOptions } from "./options.js";
import { SerialQueue } from "./serial-queue.js";
import type { Bridge, BridgeState, BridgeStats, StopOptions } from "./types.js";

interface Pending {
  readonly message: SourceMessage;
  readonly result: DecodeResult;
  readonly bytes: number;
  /** Set once its chunk committed, so a retried flush never writes it again. */
  committed: boolean;
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

export class BridgeImpl extends EventEmitter<BridgeEvents> implements Bridge {
  readonly #options: ResolvedBridgeOptions;
  readonly #clock: Clock;
  readonly #decoder: Decoder;
  readonly #queue = new SerialQueue();
  readonly #writeBuffer: Batcher<Pending>;
  readonly #pauses = new Set<PauseReason>();
  readonly #abort = new AbortController();
  #sealer: Batcher<Leaf>;
  #ageTimer: TimerHandle | undefined;
  #batch: OpenBatch;
  #state: BridgeState = "idle";
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #stopRequested = false;
  #overflowReported = false;
  #counters = { received: 0, stored: 0, duplicates: 0, rejected: 0, sealedBatches: 0 };
  #lastSealed: BatchSealedEvent | undefined;

  constructor(options: BridgeOptions) {
    super();
    this.#options = resolveBridgeOptions(options);
    this.#clock = this.#options.clock ?? systemClock;
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
    const { writeBuffer } = this.#options;
    this.#writeBuffer = new Batcher<Pending>({
      policy: { maxItems: writeBuffer.maxMessages, maxAgeMs: writeBuffer.maxDelayMs },
      capacity: writeBuffer.capacity * 2,
      sizeOf: (item) => item.bytes,
      clock: this.#clock,
      onFlush: (items) => this.#commit(items),
      onError: (error) => this.#reportFlushError(error),
    });
    this.#sealer = this.#createSealer(this.#batch.batchId);
  }

  get state(): BridgeState {
    return this.#state;
  }

  start(): Promise<void> {
    if (this.#stopRequested || this.#state === "stopped") {
      return Promise.reject(new LifecycleError("STOPPED", "this bridge was stopped; create a new one"));
    }
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.#stopRequested = true;
    this.#stopPromise ??= this.#stop(
      options.drain ?? true,
      options.seal ?? false,
      new Deadline(options.timeoutMs),
    );
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

  /** Emits without ever letting a listener's exception into the pipeline. */
  #emit<K extends keyof BridgeEvents>(event: K, ...args: Parameters<BridgeEvents[K]>): void {
    try {
      (this.emit as (event: K, ...rest: Parameters<BridgeEvents[K]>) => boolean)(event, ...args);
    } catch (error) {
      if (event === "error") {
        process.emitWarning(`veep-bridge: an "error" listener threw: ${asError(error).message}`);
        return;
      }
      this.#emit(
        "error",
        new VeepBridgeError(
          "LISTENER_ERROR",
          `a "${String(event)}" listener threw: ${asError(error).message}`,
          {
            cause: error,
          },
        ),
      );
    }
  }

  #emitError(error: Error): void {
    this.#emit(
      "error",
      error instanceof VeepBridgeError ? error : new StoreError(error.message, { cause: error }),
    );
  }

  #reportFlushError(error: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#emitError(new StoreError(`write-buffer flush failed: ${asError(error).message}`, { cause: error }));
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
      clock: this.#clock,
      onFlush: (_leaves, reason) => this.#sealLater(batchId, SEAL_REASONS[reason]),
      onError: (error) => this.#emitError(asError(error)),
    });
  }

  #sealLater(batchId: string, reason: SealReason): Promise<void> {
    return this.#queue
      .run(() => this.#sealNow(batchId, reason))
      .then(
        () => undefined,
        (error: unknown) => {
          if (!this.#abort.signal.aborted) this.#emitError(asError(error));
        },
      );
  }

  /** Makes `batch` the open batch, with a fresh seal Batcher holding its existing leaves. */
  #setBatch(batch: OpenBatch, existingLeaves: readonly string[] = [], existingBytes = 0): void {
    this.#sealer.abandon();
    if (this.#ageTimer !== undefined) this.#clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = undefined;
    this.#batch = batch;
    this.#sealer = this.#createSealer(batch.batchId);
    existingLeaves.forEach((messageHash, i) => {
      this.#sealer.add({ messageHash, bytes: i === 0 ? existingBytes : 0 });
    });
    const start = batch.startTimestamp;
    if (existingLeaves.length > 0 && start) {
      // The seal Batcher's clock starts now; the batch's age started with its first message.
      const dueIn = Math.max(0, this.#options.batch.maxAgeMs - (this.#clock.now() - start.getTime()));
      const { batchId } = batch;
      this.#ageTimer = this.#clock.setTimeout(() => void this.#sealLater(batchId, "maxAge"), dueIn);
    }
  }

  async #start(): Promise<void> {
    this.#state = "starting";
    const { source, store } = this.#options;
    const checkStop = (): void => {
      if (this.#stopRequested) throw new LifecycleError("STOPPED", "bridge stopped while starting");
    };
    try {
      await store.open();
      checkStop();
      await this.#resume();
      checkStop();
      await source.start({
        topicFilter: this.#decoder.topicPattern.filter,
        handlers: {
          message: (message) => this.#onMessage(message),
          status: (status) => {
            this.#emit("source", status);
            if (status.state === "error" && status.error) {
              this.#emitError(
                new SourceError(`${source.name} source: ${status.error.message}`, { cause: status.error }),
              );
            }
          },
        },
      });
      checkStop();
    } catch (error) {
      this.#state = "stopped";
      this.#teardownTimers();
      await Promise.allSettled([source.stop(), store.close()]);
      throw error instanceof VeepBridgeError
        ? error
        : new VeepBridgeError("CONNECTION_ERROR", `bridge failed to start: ${asError(error).message}`, {
            cause: error,
          });
    }
    this.#state = "running";
    if (this.#pauses.size > 0) source.pause();
    this.#emit("started");
  }

  /** Continues the store's open batch (after checking it) or starts a fresh one. */
  async #resume(): Promise<void> {
    const snapshot = await this.#options.store.loadOpenBatch();
    if (!snapshot) return;
    if (!(await this.#adopt(snapshot))) return;
    this.#emit("batch:opened", {
      batchId: snapshot.batchId,
      startTimestamp: snapshot.startTimestamp,
      resumed: true,
    });
    const { maxMessages, maxAgeMs } = this.#options.batch;
    const full = snapshot.messageCount >= maxMessages;
    if (full || this.#batchAgeMs() >= maxAgeMs) {
      await this.#queue.run(() => this.#sealNow(snapshot.batchId, full ? "maxMessages" : "maxAge"));
    }
  }

  /** Makes a stored open batch ours if its root matches its leaves; otherwise marks it failed. */
  async #adopt(snapshot: OpenBatchSnapshot): Promise<boolean> {
    const rebuilt = OpenBatch.fromSnapshot(snapshot, this.#options.hasher);
    const problem = integrityProblem(snapshot, rebuilt);
    if (problem) {
      await this.#options.store.failBatch(snapshot.batchId, problem);
      this.#setBatch(this.#newBatch());
      this.#emit("batch:failed", { batchId: snapshot.batchId, reason: problem });
      this.#emitError(
        new BatchIntegrityError(
          snapshot.batchId,
          `open batch ${snapshot.batchId} failed its check: ${problem}`,
        ),
      );
      return false;
    }
    this.#setBatch(rebuilt, snapshot.leaves, snapshot.payloadBytes ?? 0);
    return true;
  }

  /**
   * After a failed store call, the store may have committed it anyway (the reply was lost) or
   * moved on: bring the open batch in line with what the store holds.
   */
  async #resync(): Promise<ReadonlySet<string>> {
    const snapshot = await this.#options.store.loadOpenBatch();
    const current = this.#batch;
    const none = new Set<string>();
    if (snapshot && snapshot.batchId === current.batchId) {
      if (snapshot.messageCount !== current.messageCount || snapshot.batchHash !== current.batchHash) {
        const adopted = await this.#adopt(snapshot);
        if (adopted && snapshot.messageCount > current.messageCount) {
          return new Set(snapshot.leaves.slice(current.messageCount));
        }
      }
      return none;
    }
    if (snapshot) {
      await this.#adopt(snapshot);
      return none;
    }
    if (current.messageCount > 0) this.#setBatch(this.#newBatch());
    return none;
  }

  #onMessage(message: SourceMessage): void {
    // Late deliveries while stopping stay unacknowledged: the source delivers them again next time.
    if (this.#state !== "running" && this.#state !== "starting") return;
    if (this.#stopRequested) return;
    this.#counters.received++;
    const bytes = message.payload.byteLength;
    if (this.listenerCount("received") > 0) {
      this.#emit("received", { topic: message.topic, bytes, receivedAt: message.receivedAt });
    }
    let result: DecodeResult;
    try {
      result = this.#decoder.decode(message);
    } catch (error) {
      this.#emitError(
        new VeepBridgeError("SOURCE_ERROR", `decoding failed: ${asError(error).message}`, { cause: error }),
      );
      return;
    }
    if (!this.#writeBuffer.add({ message, result, bytes, committed: false })) {
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
      this.#emit("backpressure", { buffered: this.#writeBuffer.size, capacity });
    }
  }

  #pause(reason: PauseReason): void {
    const wasPaused = this.#pauses.size > 0;
    this.#pauses.add(reason);
    if (!wasPaused && this.#state === "running") this.#options.source.pause();
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
      this.#emit("drain", { buffered: this.#writeBuffer.size, capacity });
    }
  }

  async #commit(items: Pending[]): Promise<void> {
    let rest = items.filter((item) => !item.committed);
    while (rest.length > 0) {
      const chunk = rest;
      rest = await this.#queue.run(() => this.#commitChunk(chunk));
    }
    this.#afterFlush();
  }

  /** Appends as many of `items` as fit the open batch (sealing it first when full); returns the rest. */
  async #commitChunk(items: Pending[]): Promise<Pending[]> {
    const { maxMessages, maxBytes } = this.#options.batch;
    const batch = this.#batch;
    let room = maxMessages - batch.messageCount;
    let roomBytes = maxBytes === undefined ? Number.POSITIVE_INFINITY : maxBytes - batch.bytes;
    const readings: Reading[] = [];
    const rejections: Rejection[] = [];
    const seen = new Set<string>();
    let localDuplicates = 0;
    let taken = 0;
    let blocked = false;
    for (const item of items) {
      if (item.result.ok) {
        const reading = item.result.reading;
        const key = duplicateKey(reading.messageHash, reading.deviceId);
        if (seen.has(key)) {
          localDuplicates++;
        } else {
          const empty = batch.messageCount + readings.length === 0;
          if (room <= 0 || (!empty && reading.byteLength > roomBytes)) {
            blocked = true;
            break;
          }
          seen.add(key);
          readings.push(reading);
          room--;
          roomBytes -= reading.byteLength;
        }
      } else {
        rejections.push(item.result.rejection);
      }
      taken++;
    }
    if (taken === 0 && blocked) {
      await this.#sealNow(batch.batchId, room <= 0 ? "maxMessages" : "maxBytes");
      return items;
    }
    const chunk = items.slice(0, taken);
    const started = this.#clock.now();
    const { result, recovered } = await this.#appendWithRetry(readings, rejections);
    for (const item of chunk) item.committed = true;
    this.#applyResult(result, rejections.length, localDuplicates, recovered, this.#clock.now() - started);
    for (const item of chunk) item.message.ack();
    return items.slice(taken);
  }

  #applyResult(
    result: AppendResult,
    decoderRejections: number,
    localDuplicates: number,
    recovered: number,
    durationMs: number,
  ): void {
    const batch = this.#batch;
    if (result.plan) batch.apply(result.plan);
    const stored = (result.plan?.leaves.length ?? 0) + recovered;
    const duplicates = result.duplicates.length - recovered + localDuplicates;
    const rejected = decoderRejections + result.refused.length;
    this.#counters.stored += stored;
    this.#counters.duplicates += duplicates;
    this.#counters.rejected += rejected;
    if (result.plan) {
      for (const leaf of result.plan.leaves) {
        this.#sealer.add({ messageHash: leaf.reading.messageHash, bytes: leaf.reading.byteLength });
      }
    }
    if (result.plan?.createsBatch) {
      this.#emit("batch:opened", {
        batchId: batch.batchId,
        startTimestamp: result.plan.startTimestamp,
        resumed: false,
      });
    }
    this.#emit("stored", {
      batchId: batch.batchId,
      stored,
      duplicates,
      rejected,
      batchSize: batch.messageCount,
      batchHash: batch.batchHash,
      durationMs,
    });
  }

  #emitRejections(rejections: readonly Rejection[]): void {
    if (this.listenerCount("rejected") === 0) return;
    for (const r of rejections)
      this.#emit("rejected", { topic: r.topic, reason: r.reason, detail: r.detail });
  }

  /**
   * Appends until it succeeds (or the bridge stops). `recovered` counts readings that an earlier
   * attempt committed although its reply was lost: the store now reports them as duplicates.
   */
  async #appendWithRetry(
    readings: readonly Reading[],
    rejections: readonly Rejection[],
  ): Promise<{ result: AppendResult; recovered: number }> {
    const committedEarlier = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#options.store.append(this.#batch.request(readings, rejections));
        this.#unpause("retry");
        this.#emitRejections(rejections);
        this.#emitRejections(result.refused);
        const recovered = result.duplicates.filter((r) => committedEarlier.has(r.messageHash)).length;
        return { result, recovered };
      } catch (error) {
        await this.#waitToRetry("append", attempt, error);
        const adopted = await this.#resync().catch(() => new Set<string>());
        for (const hash of adopted) committedEarlier.add(hash);
      }
    }
  }

  async #waitToRetry(operation: "append" | "seal", attempt: number, error: unknown): Promise<void> {
    const stopped = (): LifecycleError =>
      new LifecycleError("STOPPED", `bridge stopped while retrying ${operation}`, { cause: error });
    if (this.#abort.signal.aborted) throw stopped();
    this.#pause("retry");
    const delayMs = backoffDelay(attempt, this.#options.retry);
    const failure = asError(error);
    this.#emit("retry", { operation, attempt, delayMs, error: failure });
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
    const signal = this.#abort.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, delayMs);
      timer.unref?.();
      signal.addEventListener("abort", done, { once: true });
    });
    if (signal.aborted) throw stopped();
  }

  /** Seals the open batch if it is still `batchId` and has leaves. Runs inside the queue. */
  async #sealNow(batchId: string, reason: SealReason): Promise<BatchSealedEvent | null> {
    const batch = this.#batch;
    if (batch.batchId !== batchId || batch.messageCount === 0) return null;
    const request = { batchId, batchHash: batch.batchHash, messageCount: batch.messageCount };
    const { store } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        await store.sealBatch(request);
        this.#unpause("retry");
        break;
      } catch (error) {
        await this.#waitToRetry("seal", attempt, error);
        // The seal may have committed with its reply lost, or the batch may have been failed meanwhile.
        const stored = await store.getBatch(batchId).catch(() => undefined);
        if (stored && stored.status !== "pending") {
          if (stored.status === "complete" && stored.batchHash === request.batchHash) {
            this.#unpause("retry");
            break;
          }
          this.#unpause("retry");
          this.#setBatch(this.#newBatch());
          return null;
        }
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
    this.#emit("batch:sealed", event);
    return event;
  }

  #batchAgeMs(): number {
    const start = this.#batch.startTimestamp;
    return start ? this.#clock.now() - start.getTime() : 0;
  }

  #newBatch(): OpenBatch {
    return new OpenBatch(this.#options.hasher ? { hasher: this.#options.hasher } : {});
  }

  #teardownTimers(): void {
    this.#abort.abort();
    this.#writeBuffer.abandon();
    this.#sealer.abandon();
    if (this.#ageTimer !== undefined) this.#clock.clearTimeout(this.#ageTimer);
    this.#ageTimer = undefined;
  }

  async #stop(drain: boolean, seal: boolean, deadline: Deadline): Promise<void> {
    if (this.#startPromise) await deadline.race(this.#startPromise.catch(() => undefined));
    const { source, store } = this.#options;
    const wasRunning = this.#state === "running";
    if (this.#state !== "stopped") this.#state = "stopping";
    try {
      if (wasRunning) {
        source.pause();
        if (drain) {
          const drained = await deadline.race(
            (async () => {
              await this.#writeBuffer.flush();
              if (seal) {
                const batchId = this.#batch.batchId;
                await this.#queue.run(() => this.#sealNow(batchId, "stop"));
              }
            })(),
          );
          if (!drained)
            this.#emitError(
              new LifecycleError("STOPPED", "stop: drain timed out; the rest is left for redelivery"),
            );
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#emitError(asError(error));
    } finally {
      this.#teardownTimers();
      await deadline.race(this.#queue.idle());
      const results = await Promise.allSettled([source.stop(), store.close()]);
      this.#state = "stopped";
      for (const r of results) if (r.status === "rejected") this.#emitError(asError(r.reason));
      this.#emit("stopped");
    }
  }
}
