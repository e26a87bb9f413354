import { InvalidOptionError, LifecycleError } from "../errors.js";
import type { BatcherOptions } from "./batcher-options.js";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import {
  assertPositiveInteger,
  type BatchState,
  type FlushPolicy,
  type FlushReason,
  validateFlushPolicy,
} from "./flush-policy.js";
import { ItemRing } from "./item-ring.js";

/** Boundary codes stored per item: the reason's index + 1 (0 = no boundary). */
const REASONS: readonly FlushReason[] = ["maxItems", "maxBytes", "maxAge", "predicate", "manual"];
const boundaryCode = (reason: FlushReason): number => REASONS.indexOf(reason) + 1;

interface FlushWaiter {
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type MutableState<T> = { -readonly [K in keyof BatchState<T>]: BatchState<T>[K] };

const rethrowAsync = (error: unknown): void => {
  queueMicrotask(() => {
    throw error;
  });
};

/**
 * A bounded buffer that groups items into batches by a {@link FlushPolicy} and hands each batch to
 * `onFlush`, one at a time, in order. Pure: no I/O besides the callbacks and the injected {@link Clock}.
 *
 * @remarks
 * - **Batches.** A batch closes when it reaches `maxItems` or `maxBytes` (an item that would exceed
 *   `maxBytes` starts the next batch), when `shouldFlush` returns `true`, or on {@link Batcher.flush}; these
 *   boundaries are fixed when they happen. `maxAgeMs` is a latency bound: once the oldest buffered item is
 *   that old, everything buffered up to the next boundary is handed over.
 * - **One flush at a time.** While `onFlush` is pending, items keep accumulating (up to `capacity`); when
 *   it settles and another batch is due, the next one is handed over at once.
 * - **Backpressure.** {@link Batcher.add} returns `false` at `capacity` and counts the refusal in
 *   {@link Batcher.refusedCount}; {@link Batcher.whenNotFull} resolves once a flush freed room.
 * - **A throwing `shouldFlush`** does not undo the add: the item stays, the batch stays open and the
 *   error goes to `onError`.
 * - **Failure keeps the items.** When `onFlush` rejects, the batch stays at the head of the buffer,
 *   unchanged, and the rejection goes to the waiting `flush()`/`close()` callers or else to `onError`. The
 *   same batch is handed over again at the next trigger: a new batch boundary from `add`, `maxAgeMs` after
 *   the failure, `flush()` or `close()`. Nothing is dropped; retry transient failures inside `onFlush`.
 *
 * @example
 * ```ts
 * const buffer = new Batcher<Reading>({
 *   policy: { maxItems: 20, maxAgeMs: 5 },
 *   capacity: 10_000,
 *   onFlush: (readings, reason) => store.append(readings),
 *   onError: (error) => bridge.emit("error", error),
 * });
 * if (!buffer.add(reading)) {
 *   source.pause();
 *   await buffer.whenNotFull();
 *   source.resume();
 * }
 * await buffer.close();
 * ```
 */
export class Batcher<T> implements AsyncDisposable {
  private readonly policy: FlushPolicy<T>;
  private readonly maxItems: number;
  private readonly ring: ItemRing<T>;
  private readonly sizeOf: (item: T) => number;
  private readonly onFlush: (items: T[], reason: FlushReason) => Promise<void>;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;

  private refused = 0;
  private totalBytes = 0;
  private openCount = 0;
  private openBytes = 0;
  private openFirstAt = 0;
  private pendingBoundaries = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private retryBlocked = false;
  private timer: { handle: TimerHandle } | undefined;
  private addedSeq = 0;
  private settledSeq = 0;
  private waiters: FlushWaiter[] = [];
  private notFull: { promise: Promise<void>; resolve: () => void } | undefined;
  private state: MutableState<T> | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private abandoned = false;

  /**
   * @param options - see {@link BatcherOptions}
   * @throws {@link InvalidOptionError} naming the bad option (`policy.maxItems`, `capacity`, `sizeOf`, …)
   */
  constructor(options: BatcherOptions<T>) {
    validateFlushPolicy(options.policy, "policy");
    assertPositiveInteger(options.capacity, "capacity");
    const { policy, capacity } = options;
    if (policy.maxItems !== undefined && capacity < policy.maxItems) {
      throw new InvalidOptionError("capacity", `must be at least policy.maxItems (${policy.maxItems})`);
    }
    if (typeof options.onFlush !== "function") throw new InvalidOptionError("onFlush", "must be a function");
    if (policy.maxBytes !== undefined && typeof options.sizeOf !== "function") {
      throw new InvalidOptionError("sizeOf", "is required when policy.maxBytes is set");
    }
    this.policy = policy;
    this.maxItems = policy.maxItems ?? capacity;
    this.ring = new ItemRing<T>(capacity);
    this.sizeOf = options.sizeOf ?? (() => 0);
    this.onFlush = options.onFlush;
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError ?? rethrowAsync;
  }

  /** Items held, the batch being handed over included. */
  get size(): number {
    return this.ring.count;
  }

  /** Sum of `sizeOf` over the items held. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** `true` when {@link Batcher.add} would refuse an item. */
  get full(): boolean {
    return this.ring.count >= this.ring.capacity;
  }

  /** How many items {@link Batcher.add} refused because the buffer was full. */
  get refusedCount(): number {
    return this.refused;
  }

  /**
   * Whether `item` would join the open batch rather than start a new one: the open batch is empty, or
   * adding it keeps its count `<= maxItems` and its bytes `<= maxBytes`. Capacity is not considered.
   *
   * @param item - the candidate item (measured with `sizeOf`)
   */
  fits(item: T): boolean {
    if (this.openCount === 0) return true;
    if (this.openCount + 1 > this.maxItems) return false;
    const { maxBytes } = this.policy;
    return maxBytes === undefined || this.openBytes + this.measure(item) <= maxBytes;
  }

  /**
   * Buffer an item.
   *
   * @param item - the item
   * @returns `false` when the buffer is full: the item was not taken, apply backpressure and retry after
   * {@link Batcher.whenNotFull}
   * @throws {@link LifecycleError} after {@link Batcher.close}
   */
  add(item: T): boolean {
    if (this.closing) throw new LifecycleError("STOPPED", "Batcher.add() called after close()");
    if (this.full) {
      this.refused++;
      return false;
    }
    const size = this.measure(item);
    const now = this.clock.now();
    const { maxBytes } = this.policy;
    const boundariesBefore = this.pendingBoundaries;
    if (this.openCount > 0 && maxBytes !== undefined && this.openBytes + size > maxBytes) {
      this.closeOpenBatch("maxBytes");
    }
    this.ring.push(item, size, now);
    this.addedSeq++;
    this.totalBytes += size;
    if (this.openCount === 0) this.openFirstAt = now;
    this.openCount++;
    this.openBytes += size;
    if (this.openCount >= this.maxItems) this.closeOpenBatch("maxItems");
    else if (maxBytes !== undefined && this.openBytes >= maxBytes) this.closeOpenBatch("maxBytes");
    else if (this.predicateSays(item, now)) this.closeOpenBatch("predicate");
    if (this.pendingBoundaries > boundariesBefore) this.retryBlocked = false;
    this.pump(now);
    return true;
  }

  /**
   * Close the open batch and hand over everything buffered now.
   *
   * @returns resolves when every item buffered at the call has been handed over and its `onFlush`
   * resolved (at once when nothing is buffered or in flight); rejects with the `onFlush` rejection
   * otherwise, the items being kept
   */
  flush(): Promise<void> {
    if (this.abandoned) return Promise.resolve();
    if (this.openCount > 0) this.closeOpenBatch("manual");
    if (this.settledSeq === this.addedSeq) return Promise.resolve();
    const target = this.addedSeq;
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
    });
    this.retryBlocked = false;
    this.pump();
    return done;
  }

  /**
   * Resolves at once when the buffer has room, otherwise when a flush frees some (or the batcher is
   * closed). One shared promise per full episode.
   */
  whenNotFull(): Promise<void> {
    if (!this.full || this.closed) return Promise.resolve();
    if (!this.notFull) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.notFull = { promise, resolve };
    }
    return this.notFull.promise;
  }

  /**
   * Stop accepting items, flush what remains and stop the timer. Idempotent: later calls return the
   * first call's promise. When the final flush fails, the promise rejects and the items stay; call
   * {@link Batcher.flush} to retry.
   */
  close(): Promise<void> {
    this.closing ??= this.flush().finally(() => {
      this.closed = true;
      this.stopTimer();
      this.releaseNotFull();
    });
    return this.closing;
  }

  /**
   * Stop at once without handing anything over: stop accepting items, clear the timer, and return
   * the items not currently in `onFlush` (a flush already running completes as usual, and nothing
   * is flushed after it). Idempotent; later calls return an empty array. Pending `flush()` callers
   * are released. Use it to shut down without writing (e.g. a stop that must not wait).
   */
  abandon(): T[] {
    if (this.abandoned) return [];
    this.closing ??= Promise.resolve();
    this.closed = true;
    this.stopTimer();
    this.retryBlocked = true;
    const kept = this.ring.count - this.inFlight;
    const dropped = new Array<T>(kept);
    for (let i = 0; i < kept; i++) dropped[i] = this.ring.itemAt(this.inFlight + i);
    this.abandoned = true;
    if (this.inFlight === 0) {
      this.ring.dropHead(this.ring.count);
      this.totalBytes = 0;
      this.pendingBoundaries = 0;
    }
    this.openCount = 0;
    this.openBytes = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
    this.releaseNotFull();
    return dropped;
  }

  /** Same as {@link Batcher.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private measure(item: T): number {
    const size = this.sizeOf(item);
    if (typeof size !== "number" || !Number.isFinite(size) || size < 0) {
      throw new InvalidOptionError("sizeOf", `must return a finite number >= 0, returned ${String(size)}`);
    }
    return size;
  }

  private predicateSays(item: T, now: number): boolean {
    const { shouldFlush } = this.policy;
    if (!shouldFlush) return false;
    try {
      return shouldFlush(this.stateAfter(item, now)) === true;
    } catch (error) {
      this.onError(error);
      return false;
    }
  }

  private stateAfter(item: T, now: number): BatchState<T> {
    if (!this.state) this.state = { count: 0, bytes: 0, firstAddedAt: 0, ageMs: 0, lastItem: item };
    const state = this.state;
    state.count = this.openCount;
    state.bytes = this.openBytes;
    state.firstAddedAt = this.openFirstAt;
    state.ageMs = Math.max(0, now - this.openFirstAt);
    state.lastItem = item;
    return state;
  }

  private closeOpenBatch(reason: FlushReason): void {
    this.ring.setBoundaryAfter(this.ring.count - 1, boundaryCode(reason));
    this.pendingBoundaries++;
    this.openCount = 0;
    this.openBytes = 0;
  }

  private pump(now?: number): void {
    if (this.inFlight > 0 || this.retryBlocked || this.ring.count === 0) return;
    if (this.pendingBoundaries === 0) {
      const { maxAgeMs } = this.policy;
      if (maxAgeMs === undefined) return;
      const dueIn = this.ring.addedAt(0) + maxAgeMs - (now ?? this.clock.now());
      if (dueIn > 0) {
        if (!this.timer && !this.closing) this.startTimer(dueIn);
        return;
      }
      this.closeOpenBatch("maxAge");
    }
    this.handOver();
  }

  private handOver(): void {
    this.stopTimer();
    let count = 0;
    let bytes = 0;
    let code = 0;
    while (code === 0) {
      bytes += this.ring.sizeAt(count);
      code = this.ring.boundaryAfter(count);
      count++;
    }
    const items = new Array<T>(count);
    for (let i = 0; i < count; i++) items[i] = this.ring.itemAt(i);
    this.inFlight = count;
    this.inFlightBytes = bytes;
    let settled: Promise<void>;
    try {
      settled = Promise.resolve(this.onFlush(items, REASONS[code - 1] ?? "manual"));
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled.then(
      () => this.flushSucceeded(),
      (error: unknown) => this.flushFailed(error),
    );
  }

  private flushSucceeded(): void {
    if (this.abandoned) {
      this.ring.dropHead(this.ring.count);
      this.inFlight = 0;
      this.inFlightBytes = 0;
      this.totalBytes = 0;
      this.pendingBoundaries = 0;
      return;
    }
    this.ring.dropHead(this.inFlight);
    this.settledSeq += this.inFlight;
    this.totalBytes -= this.inFlightBytes;
    this.pendingBoundaries--;
    this.inFlight = 0;
    this.inFlightBytes = 0;
    let done = 0;
    while (done < this.waiters.length && (this.waiters[done]?.target ?? Infinity) <= this.settledSeq) done++;
    for (const waiter of this.waiters.splice(0, done)) waiter.resolve();
    if (!this.full) this.releaseNotFull();
    this.pump();
  }

  private flushFailed(error: unknown): void {
    if (this.abandoned) {
      this.flushSucceeded();
      return;
    }
    this.inFlight = 0;
    this.inFlightBytes = 0;
    this.retryBlocked = true;
    const waiters = this.waiters;
    this.waiters = [];
    if (waiters.length > 0) for (const waiter of waiters) waiter.reject(error);
    else this.onError(error);
    const { maxAgeMs } = this.policy;
    if (maxAgeMs !== undefined && !this.closing) this.startTimer(maxAgeMs);
  }

  private startTimer(ms: number): void {
    this.stopTimer();
    const timer = {
      handle: this.clock.setTimeout(() => {
        if (this.timer !== timer) return;
        this.timer = undefined;
        this.retryBlocked = false;
        this.pump();
      }, ms),
    };
    this.timer = timer;
  }

  private stopTimer(): void {
    if (!this.timer) return;
    this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private releaseNotFull(): void {
    this.notFull?.resolve();
    this.notFull = undefined;
  }
}
