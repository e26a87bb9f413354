import { InvalidOptionError } from "../errors.js";

/** Why a batch was handed over to `onFlush`. */
export type FlushReason = "maxItems" | "maxBytes" | "maxAge" | "predicate" | "manual";

/**
 * The open batch as seen by {@link FlushPolicy.shouldFlush} right after an item joined it.
 *
 * @remarks The open batch is the run of buffered items after the last batch boundary. The same object is
 * reused for every call: read it inside the predicate, do not keep it.
 */
export interface BatchState<T> {
  /** Items in the open batch, the one just added included. */
  readonly count: number;
  /** Sum of `sizeOf` over the open batch (0 when no `sizeOf` is given). */
  readonly bytes: number;
  /** Clock time (ms since the epoch) when the open batch's first item was added. */
  readonly firstAddedAt: number;
  /** Milliseconds since {@link BatchState.firstAddedAt}. */
  readonly ageMs: number;
  /** The item just added. */
  readonly lastItem: T;
}

/**
 * When a {@link Batcher} closes a batch and hands it over. Every limit is optional; at least one trigger
 * must be set. A batch never holds more than `maxItems` items nor more than `maxBytes` bytes (an item
 * larger than `maxBytes` on its own forms a batch of its own).
 *
 * @example
 * ```ts
 * const writeBuffer: FlushPolicy = { maxItems: 20, maxAgeMs: 5 };
 * const openBatch: FlushPolicy<Reading> = { maxItems: 1000, maxBytes: 1 << 20, maxAgeMs: 300_000 };
 * ```
 */
export interface FlushPolicy<T = unknown> {
  /**
   * Close the batch when it holds this many items.
   *
   * @defaultValue no item limit beyond the batcher's `capacity`
   */
  readonly maxItems?: number;
  /**
   * Close the batch when its items' sizes add up to this many bytes; an item that would push the batch
   * past it starts the next batch instead.
   *
   * @defaultValue no byte limit
   */
  readonly maxBytes?: number;
  /**
   * Hand the batch over this many milliseconds after its FIRST item was added.
   *
   * @defaultValue no age limit
   */
  readonly maxAgeMs?: number;
  /**
   * Custom trigger, evaluated after each add that did not already close the batch; `true` closes the
   * batch after the item just added.
   *
   * @defaultValue no predicate
   */
  readonly shouldFlush?: (state: BatchState<T>) => boolean;
}

/** Largest delay Node's timers accept (about 24.8 days); longer ones would fire at once. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Check a {@link FlushPolicy} and throw an {@link InvalidOptionError} naming the first bad option.
 *
 * @param policy - the policy to check
 * @param prefix - dotted path the policy sits at in the caller's options, e.g. `batch`
 * @param names - the caller's names for the policy's keys, e.g. `{ maxItems: "maxMessages" }`
 * @throws {@link InvalidOptionError} for a limit that is not a finite positive integer (`maxAgeMs` at most
 * {@link MAX_TIMER_DELAY_MS}), a `shouldFlush` that is not a function, or a policy with no trigger at all.
 *
 * @example
 * ```ts
 * validateFlushPolicy({ maxItems: 0 }, "batch", { maxItems: "maxMessages" });
 * // throws InvalidOptionError: Invalid option `batch.maxMessages`: must be a positive integer, got 0
 * ```
 */
export function validateFlushPolicy<T>(
  policy: FlushPolicy<T>,
  prefix = "policy",
  names: Partial<Record<keyof FlushPolicy<T>, string>> = {},
): void {
  const path = (key: keyof FlushPolicy<T>): string => `${prefix}.${names[key] ?? key}`;
  if (typeof policy !== "object" || policy === null) {
    throw new InvalidOptionError(prefix, `must be an object, got ${describe(policy)}`);
  }
  for (const key of ["maxItems", "maxBytes", "maxAgeMs"] as const) {
    const value = policy[key];
    if (value !== undefined) assertPositiveInteger(value, path(key));
  }
  if (policy.maxAgeMs !== undefined && policy.maxAgeMs > MAX_TIMER_DELAY_MS) {
    throw new InvalidOptionError(path("maxAgeMs"), `must be at most ${MAX_TIMER_DELAY_MS} ms`);
  }
  if (policy.shouldFlush !== undefined && typeof policy.shouldFlush !== "function") {
    throw new InvalidOptionError(
      path("shouldFlush"),
      `must be a function, got ${describe(policy.shouldFlush)}`,
    );
  }
  const triggers = ["maxItems", "maxBytes", "maxAgeMs", "shouldFlush"] as const;
  if (triggers.every((key) => policy[key] === undefined)) {
    const listed = triggers.map((key) => names[key] ?? key).join(", ");
    throw new InvalidOptionError(prefix, `needs at least one flush trigger (${listed})`);
  }
}

/**
 * Throw an {@link InvalidOptionError} for `option` unless `value` is a finite positive integer.
 *
 * @param value - the value to check
 * @param option - dotted path of the option, used in the error
 */
export function assertPositiveInteger(value: unknown, option: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `must be a positive integer, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}
