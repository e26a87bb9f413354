import type { Clock } from "../batching/clock.js";
import { InvalidOptionError, LifecycleError, StoreError, VeepBridgeError } from "../errors.js";
import { integerOption, MAX_TIMER_DELAY_MS } from "../validation.js";
import { asError, type SafeEmitter } from "./safe-emit.js";

/** How failed store operations are retried: until they succeed or the bridge stops. */
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

/** Applies defaults and validates; errors name the option under `prefix`. */
export function resolveRetryOptions(options: RetryOptions, prefix: string): ResolvedRetryOptions {
  const bounds = { min: 1, max: MAX_TIMER_DELAY_MS };
  const initialDelayMs = integerOption(`${prefix}.initialDelayMs`, options.initialDelayMs, 100, bounds);
  const maxDelayMs = integerOption(`${prefix}.maxDelayMs`, options.maxDelayMs, 30_000, bounds);
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

/** Waits `ms` on `clock` or until `signal` aborts; resolves `false` when aborted. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve(!signal.aborted);
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** What {@link waitToRetry} needs of the bridge. */
export interface RetryContext {
  readonly clock: Clock;
  readonly retry: ResolvedRetryOptions;
  readonly signal: AbortSignal;
  readonly events: SafeEmitter;
}

/**
 * After failed attempt number `attempt` of a store operation: reports it (`retry` and `error`
 * events) and waits the backoff delay.
 * @throws {@link LifecycleError} `STOPPED` when the bridge stops before or during the wait
 */
export async function waitToRetry(
  context: RetryContext,
  operation: "append" | "seal",
  attempt: number,
  error: unknown,
): Promise<void> {
  const stopped = (): LifecycleError =>
    new LifecycleError("STOPPED", `bridge stopped while retrying ${operation}`, { cause: error });
  if (context.signal.aborted) throw stopped();
  const delayMs = backoffDelay(attempt, context.retry);
  const failure = asError(error);
  context.events.emit("retry", { operation, attempt, delayMs, error: failure });
  context.events.error(
    error instanceof VeepBridgeError
      ? error
      : new StoreError(
          `${operation} failed (attempt ${attempt}), retrying in ${delayMs} ms: ${failure.message}`,
          {
            cause: error,
          },
        ),
  );
  if (!(await sleep(context.clock, delayMs, context.signal))) throw stopped();
}
