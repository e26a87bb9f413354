import { EventEmitter } from "eventemitter3";
import { BackgroundAnchoring } from "../anchoring/background.js";
import type { AnchorLedger } from "../anchoring/types.js";
import { systemClock, WriteBuffer } from "../batching/index.js";
import { AnchorError, LifecycleError, SourceError, VeepBridgeError } from "../errors.js";
import type { BatchSealedEvent, BridgeEvents } from "../events.js";
import { hashCanonicalJson, sha256Hasher } from "../hashing/index.js";
import { createDecoder, type Decoder } from "../message/index.js";
import type { SourceMessage } from "../sources/source.js";
import { guardStore } from "../stores/guard-store.js";
import type { Store } from "../stores/store.js";
import { Committer } from "./committer.js";
import type { BridgeContext } from "./context.js";
import { Deadline } from "./deadline.js";
import { type Entry, EntryLedger } from "./entry.js";
import { Ingest } from "./ingest.js";
import { type BridgeOptions, resolveBridgeOptions } from "./options.js";
import { asError, SafeEmitter } from "./safe-emit.js";
import { Sealer } from "./sealer.js";
import { SerialQueue } from "./serial-queue.js";
import { SignatureGate } from "./signatures.js";
import type { Bridge, BridgeState, BridgeStats, StopOptions } from "./types.js";

/**
 * The bridge's lifecycle: wires ingest (source → decode → write buffer), the commit path (write
 * buffer → store → acknowledgements) and the sealer, then starts and stops them in order.
 */
export class BridgeImpl extends EventEmitter<BridgeEvents> implements Bridge {
  readonly #context: BridgeContext;
  readonly #abort = new AbortController();
  readonly #ledger = new EntryLedger();
  readonly #buffer: WriteBuffer<Entry>;
  readonly #sealer: Sealer;
  readonly #ingest: Ingest;
  readonly #decoder: Decoder;
  readonly #anchoring: BackgroundAnchoring | undefined;
  #state: BridgeState = "idle";
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #stopRequested = false;

  constructor(options: BridgeOptions) {
    super();
    const resolved = resolveBridgeOptions(options);
    const store = guardStore(resolved.store);
    const hasher = store.hasher ?? sha256Hasher;
    const events = new SafeEmitter(this);
    const clock = resolved.clock ?? systemClock;
    const { signatures } = resolved;
    const keys =
      signatures === false
        ? undefined
        : (signatures.keys ??
          (typeof store.loadDeviceKeys === "function" ? () => store.loadDeviceKeys!() : undefined));
    this.#context = {
      options: resolved,
      store,
      hasher,
      clock,
      events,
      counters: { received: 0, redelivered: 0, stored: 0, duplicates: 0, rejected: 0, sealedBatches: 0 },
      queue: new SerialQueue(),
      signal: this.#abort.signal,
      retry: resolved.retry,
      signatures:
        signatures === false || keys === undefined
          ? undefined
          : new SignatureGate({ ...signatures, keys }, clock),
    };
    this.#decoder = createDecoder({
      ...(resolved.topic !== undefined ? { topic: resolved.topic } : {}),
      ...(resolved.maxPayloadBytes !== undefined ? { maxPayloadBytes: resolved.maxPayloadBytes } : {}),
      ...(resolved.validate !== undefined ? { validate: resolved.validate } : {}),
      ...(hasher !== sha256Hasher
        ? { hashCanonicalJson: (canonical: string) => hashCanonicalJson(canonical, hasher) }
        : {}),
    });
    this.#sealer = new Sealer(this.#context);
    const committer = new Committer(this.#context, this.#sealer, this.#ledger);
    const { writeBuffer, source } = resolved;
    this.#buffer = new WriteBuffer<Entry>({
      // A commit never spans two batches: take what the open batch has room for.
      maxItems: () => Math.min(writeBuffer.maxMessages, this.#sealer.room()),
      countOf: (entry) => (entry.result.ok ? 1 : 0),
      maxBytes: writeBuffer.capacityBytes,
      flushAt: () => Math.min(writeBuffer.maxMessages, source.maxInFlight ?? writeBuffer.maxMessages),
      maxDelayMs: writeBuffer.maxDelayMs,
      capacity: writeBuffer.capacity,
      capacityBytes: writeBuffer.capacityBytes,
      sizeOf: (entry) => entry.bytes,
      clock: this.#context.clock,
      commit: (entries) => committer.commit(entries),
      onError: (error) => {
        if (!this.#abort.signal.aborted) events.error(error);
      },
      afterCommit: () => this.#afterCommit(),
    });
    this.#ingest = new Ingest(this.#context, this.#decoder, this.#ledger, this.#buffer);
    if (resolved.anchoring) {
      const anchoring = new BackgroundAnchoring(
        store as Store & AnchorLedger,
        { clock: this.#context.clock, ...resolved.anchoring },
        (event) => events.emit("anchor", event),
        (error) =>
          events.error(
            error instanceof VeepBridgeError
              ? error
              : new AnchorError(`anchoring pass failed: ${asError(error).message}`, { cause: error }),
          ),
      );
      this.#anchoring = anchoring;
      this.on("batch:sealed", () => anchoring.kick());
    }
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
    await this.#buffer.flush();
    const { batchId } = this.#sealer.batch;
    return this.#context.queue.run(() => this.#sealer.seal("manual", batchId));
  }

  stats(): BridgeStats {
    const batch = this.#sealer.batch;
    return {
      ...this.#context.counters,
      refused: this.#buffer.refusedCount,
      buffered: this.#buffer.size,
      bufferedBytes: this.#buffer.bytes,
      openBatchSize: batch.messageCount,
      openBatchId: batch.messageCount > 0 ? batch.batchId : undefined,
      lastSealed: this.#sealer.lastSealed,
    };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop({ drain: true });
  }

  #receive(message: SourceMessage): void {
    // Late deliveries while stopping stay unacknowledged: the source delivers them again next time.
    if (this.#stopRequested || (this.#state !== "running" && this.#state !== "starting")) return;
    this.#ingest.receive(message);
  }

  #afterCommit(): void {
    if (this.#stopRequested) return;
    try {
      this.#ingest.checkDrained();
    } catch (error) {
      this.#context.events.error(error);
    }
  }

  async #start(): Promise<void> {
    this.#state = "starting";
    const { source } = this.#context.options;
    const { store, events } = this.#context;
    const checkStop = (): void => {
      if (this.#stopRequested) throw new LifecycleError("STOPPED", "bridge stopped while starting");
    };
    try {
      await store.open();
      checkStop();
      await this.#context.signatures?.load();
      checkStop();
      await this.#context.queue.run(() => this.#sealer.resume());
      checkStop();
      await source.start({
        topicFilter: this.#decoder.topicPattern.filter,
        handlers: {
          message: (message) => this.#receive(message),
          status: (status) => {
            events.emit("source", status);
            if (status.state === "error" && status.error) {
              events.error(
                status.error instanceof VeepBridgeError
                  ? status.error
                  : new SourceError(`${source.name} source: ${status.error.message}`, {
                      cause: status.error,
                    }),
              );
            }
          },
        },
      });
      checkStop();
    } catch (error) {
      this.#state = "stopped";
      this.#teardown();
      await Promise.allSettled([source.stop(), store.close()]);
      throw error instanceof VeepBridgeError
        ? error
        : new VeepBridgeError("CONNECTION_ERROR", `bridge failed to start: ${asError(error).message}`, {
            cause: error,
          });
    }
    this.#state = "running";
    events.emit("started");
    this.#anchoring?.start();
  }

  #teardown(): void {
    this.#abort.abort();
    this.#sealer.dispose();
    this.#ledger.release(this.#buffer.discard());
  }

  async #stop(drain: boolean, seal: boolean, deadline: Deadline): Promise<void> {
    if (this.#startPromise) await deadline.race(this.#startPromise.catch(() => undefined));
    const { source } = this.#context.options;
    const { store, events, queue } = this.#context;
    const wasRunning = this.#state === "running";
    if (this.#state !== "stopped") this.#state = "stopping";
    try {
      if (wasRunning) {
        source.pause();
        if (drain) {
          const drained = await deadline.race(
            (async () => {
              await this.#buffer.close();
              if (seal) {
                const { batchId } = this.#sealer.batch;
                await queue.run(() => this.#sealer.seal("stop", batchId));
              }
            })(),
          );
          if (!drained) {
            events.error(
              new LifecycleError("STOPPED", "stop: drain timed out; the rest is left for redelivery"),
            );
          }
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) events.error(error);
    } finally {
      this.#teardown();
      await deadline.race(queue.idle());
      if (this.#anchoring) await deadline.race(this.#anchoring.stop());
      const results = await Promise.allSettled([source.stop(), store.close()]);
      this.#state = "stopped";
      for (const r of results) if (r.status === "rejected") events.error(r.reason);
      events.emit("stopped");
    }
  }
}
