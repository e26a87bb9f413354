import type { Clock, TimerHandle } from "./clock.js";

/** How a {@link WriteBuffer} groups items into commits. */
export interface WriteBufferSettings<T> {
  /**
   * Most items handed to one commit, counted by `countOf`; read before each (e.g. the room left in
   * the open batch).
   */
  readonly maxItems: () => number;
  /** How much an item counts toward `maxItems` (e.g. 0 for one that takes no room in a batch). */
  readonly countOf: (item: T) => number;
  /** Most bytes (by `sizeOf`) handed to one commit; a single larger item goes alone. */
  readonly maxBytes: number;
  /** Commit at once when this many items wait (e.g. the source's in-flight window); read on every add. */
  readonly flushAt: () => number;
  /** Commit at most this long after the oldest waiting item arrived. */
  readonly maxDelayMs: number;
  /** Items held (waiting or being committed) at which the buffer is {@link WriteBuffer.full}. */
  readonly capacity: number;
  /** Bytes held at which the buffer is {@link WriteBuffer.full} (so it may pass this by one item). */
  readonly capacityBytes: number;
  /** Size of an item in bytes. */
  readonly sizeOf: (item: T) => number;
  /** Time and timers. */
  readonly clock: Clock;
  /**
   * Writes items, one call at a time, in order. The buffer owns no retry: a rejection is passed to
   * `onError` and the items leave the buffer (the committer decides what becomes of them).
   */
  readonly commit: (items: T[]) => Promise<void>;
  /** Receives a rejected commit's error. */
  readonly onError: (error: unknown) => void;
  /** Called after each commit settled, once the buffer no longer counts its items. */
  readonly afterCommit?: () => void;
}

/**
 * The write buffer between the source and the store, shaped like OpenTelemetry's batch span
 * processor: a bounded buffer with a refusal counter; a commit when enough items wait or when the
 * oldest has waited `maxDelayMs` (an `unref`'d timer); one commit at a time, and when it ends the
 * next takes everything that arrived meanwhile (group commit, up to `maxItems`/`maxBytes`);
 * `close()` runs once and commits what is left.
 */
export class WriteBuffer<T> {
  readonly #settings: WriteBufferSettings<T>;
  #waiting: T[] = [];
  /** When each waiting item arrived (parallel to `#waiting`). */
  #arrivals: number[] = [];
  #waitingBytes = 0;
  #committing: { readonly count: number; readonly bytes: number; readonly done: Promise<void> } | undefined;
  #timer: TimerHandle | undefined;
  #refused = 0;
  /** Items ever added, and items that have left (their commit settled, or discarded). */
  #added = 0;
  #left = 0;
  #closing: Promise<void> | undefined;

  /** @param settings - see {@link WriteBufferSettings} */
  constructor(settings: WriteBufferSettings<T>) {
    this.#settings = settings;
  }

  /** Items held: waiting plus being committed. */
  get size(): number {
    return this.#waiting.length + (this.#committing?.count ?? 0);
  }

  /** Bytes held: waiting plus being committed. */
  get bytes(): number {
    return this.#waitingBytes + (this.#committing?.bytes ?? 0);
  }

  /** `true` at `capacity` items or `capacityBytes` bytes: {@link WriteBuffer.add} refuses until a commit frees room. */
  get full(): boolean {
    return this.size >= this.#settings.capacity || this.bytes >= this.#settings.capacityBytes;
  }

  /** Items {@link WriteBuffer.add} refused because the buffer was full or closed. */
  get refusedCount(): number {
    return this.#refused;
  }

  /**
   * Adds an item; returns `false` (and counts a refusal) when the buffer is full or closed.
   * @param item - the item
   */
  add(item: T): boolean {
    if (this.full || this.#closing) {
      this.#refused++;
      return false;
    }
    this.#added++;
    this.#waiting.push(item);
    this.#arrivals.push(this.#settings.clock.now());
    this.#waitingBytes += this.#settings.sizeOf(item);
    this.#schedule();
    return true;
  }

  /** Resolves once everything added before the call has been handed to a commit that settled. */
  async flush(): Promise<void> {
    // Items leave in the order they came, so those added before now have left once `#left` reaches
    // this; later arrivals under steady traffic do not keep the caller waiting.
    const target = this.#added;
    while (this.#left < target) {
      if (this.#committing) await this.#committing.done;
      else if (this.#waiting.length > 0) this.#commitNext();
      else break;
    }
  }

  /** Commits what is left and refuses further items; later calls return the first call's promise. */
  close(): Promise<void> {
    this.#closing ??= this.flush();
    return this.#closing;
  }

  /** Takes the waiting items out without committing them (a commit in progress runs on). */
  discard(): T[] {
    this.#clearTimer();
    const items = this.#waiting;
    this.#waiting = [];
    this.#arrivals = [];
    this.#waitingBytes = 0;
    this.#left += items.length;
    return items;
  }

  #schedule(): void {
    if (this.#committing || this.#waiting.length === 0) return;
    const { clock, maxDelayMs, maxBytes } = this.#settings;
    const dueIn = this.#arrivals[0]! + maxDelayMs - clock.now();
    const enough = Math.min(this.#settings.flushAt(), this.#settings.maxItems());
    if (this.#waiting.length >= enough || this.#waitingBytes >= maxBytes || dueIn <= 0) {
      this.#commitNext();
      return;
    }
    this.#timer ??= clock.setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, dueIn);
  }

  #commitNext(): void {
    this.#clearTimer();
    const { maxBytes, sizeOf } = this.#settings;
    const maxItems = Math.max(1, this.#settings.maxItems());
    let count = 0;
    let counted = 0;
    let bytes = 0;
    while (count < this.#waiting.length) {
      const item = this.#waiting[count]!;
      const size = sizeOf(item);
      const weight = this.#settings.countOf(item);
      if (count > 0 && (counted + weight > maxItems || bytes + size > maxBytes)) break;
      bytes += size;
      counted += weight;
      count++;
    }
    const items = this.#waiting.splice(0, count);
    this.#arrivals.splice(0, count);
    this.#waitingBytes -= bytes;
    const done = Promise.resolve()
      .then(() => this.#settings.commit(items))
      .catch((error: unknown) => this.#settings.onError(error))
      .finally(() => {
        this.#committing = undefined;
        this.#left += count;
        this.#settings.afterCommit?.();
        this.#schedule();
      });
    this.#committing = { count, bytes, done };
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#settings.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
