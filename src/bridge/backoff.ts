import { InvalidOptionError } from "../errors.js";

/** How failed store operations are retried. */
export interface RetryOptions {
  /**
   * First wait after a failure, in milliseconds.
   * @defaultValue 100
   */
  readonly initialDelayMs?: number;
  /**
   * Longest wait between attempts, in milliseconds.
   * @defaultValue 30000
   */
  readonly maxDelayMs?: number;
}

/** {@link RetryOptions} with defaults applied. */
export interface ResolvedRetryOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** Longest delay `setTimeout` honours (about 24.8 days). */
const MAX_DELAY_MS = 2_147_483_647;

/** Applies defaults and validates; errors name the option under `prefix`. */
export function resolveRetryOptions(options: RetryOptions = {}, prefix = "retry"): ResolvedRetryOptions {
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  for (const [name, value] of [
    ["initialDelayMs", initialDelayMs],
    ["maxDelayMs", maxDelayMs],
  ] as const) {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_DELAY_MS) {
      throw new InvalidOptionError(
        `${prefix}.${name}`,
        `expected a positive number of milliseconds up to ${MAX_DELAY_MS}, got ${String(value)}`,
      );
    }
  }
  if (maxDelayMs < initialDelayMs) {
    throw new InvalidOptionError(`${prefix}.maxDelayMs`, "must not be smaller than initialDelayMs");
  }
  return { initialDelayMs, maxDelayMs };
}

/** Exponential backoff with ±20 % jitter: attempt 1 waits about `initialDelayMs`. */
export function backoffDelay(
  attempt: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
