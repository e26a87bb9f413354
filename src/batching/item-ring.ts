/** First allocation of an {@link ItemRing}; it doubles from there up to its capacity. */
const INITIAL_SLOTS = 64;

/**
 * Bounded FIFO of items with, per slot, the item's size, the time it was added and a batch-boundary code
 * (0 = none). Internal to the batching module.
 *
 * @remarks Parallel preallocated arrays in a ring: `push` and `dropHead` are O(1) amortised and allocate
 * nothing per item; the ring doubles (copying once) until it reaches `capacity` and never grows past it.
 */
export class ItemRing<T> {
  private items: (T | undefined)[];
  private sizes: Float64Array;
  private times: Float64Array;
  private boundaries: Uint8Array;
  private head = 0;
  private length = 0;

  /** @param capacity - most items the ring ever holds */
  constructor(readonly capacity: number) {
    const slots = Math.min(capacity, INITIAL_SLOTS);
    this.items = new Array<T | undefined>(slots);
    this.sizes = new Float64Array(slots);
    this.times = new Float64Array(slots);
    this.boundaries = new Uint8Array(slots);
  }

  /** Items held. */
  get count(): number {
    return this.length;
  }

  /** Append an item; the caller checks `count < capacity` first. */
  push(item: T, size: number, addedAt: number): void {
    if (this.length === this.items.length) this.grow();
    const slot = this.slot(this.length);
    this.items[slot] = item;
    this.sizes[slot] = size;
    this.times[slot] = addedAt;
    this.boundaries[slot] = 0;
    this.length++;
  }

  /** The `index`-th item from the head (0 = oldest). */
  itemAt(index: number): T {
    return this.items[this.slot(index)] as T;
  }

  /** Size of the `index`-th item from the head. */
  sizeAt(index: number): number {
    return this.sizes[this.slot(index)] ?? 0;
  }

  /** Time the `index`-th item from the head was added. */
  addedAt(index: number): number {
    return this.times[this.slot(index)] ?? 0;
  }

  /** Boundary code after the `index`-th item from the head (0 = the batch goes on). */
  boundaryAfter(index: number): number {
    return this.boundaries[this.slot(index)] ?? 0;
  }

  /** Mark the `index`-th item from the head as the last of its batch. */
  setBoundaryAfter(index: number, code: number): void {
    this.boundaries[this.slot(index)] = code;
  }

  /** Remove the `n` oldest items, releasing the references. */
  dropHead(n: number): void {
    for (let i = 0; i < n; i++) {
      const slot = this.slot(i);
      this.items[slot] = undefined;
      this.boundaries[slot] = 0;
    }
    this.head = this.slot(n);
    this.length -= n;
  }

  private slot(index: number): number {
    const slot = this.head + index;
    return slot < this.items.length ? slot : slot - this.items.length;
  }

  private grow(): void {
    const slots = Math.min(this.capacity, this.items.length * 2);
    const items = new Array<T | undefined>(slots);
    const sizes = new Float64Array(slots);
    const times = new Float64Array(slots);
    const boundaries = new Uint8Array(slots);
    for (let i = 0; i < this.length; i++) {
      const slot = this.slot(i);
      items[i] = this.items[slot];
      sizes[i] = this.sizes[slot] ?? 0;
      times[i] = this.times[slot] ?? 0;
      boundaries[i] = this.boundaries[slot] ?? 0;
    }
    this.items = items;
    this.sizes = sizes;
    this.times = times;
    this.boundaries = boundaries;
    this.head = 0;
  }
}
