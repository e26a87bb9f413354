/**
 * The one place option values are checked: every factory reports a bad option the same way, as an
 * {@link InvalidOptionError} naming it.
 */
import { InvalidOptionError } from "./errors.js";

/** Longest delay `setTimeout` honours (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Bounds of {@link integerOption}. */
export interface IntegerBounds {
  /** Smallest value allowed. @defaultValue 1 */
  readonly min?: number;
  /** Largest value allowed. @defaultValue `Number.MAX_SAFE_INTEGER` */
  readonly max?: number;
}

/**
 * Checks an integer option: `fallback` when `value` is `undefined`, else an integer within bounds.
 *
 * @param option - dotted name reported in the error, e.g. `batch.maxMessages`
 * @param value - what the user passed
 * @param fallback - the default
 * @throws {@link InvalidOptionError} naming `option`
 */
export function integerOption(
  option: string,
  value: unknown,
  fallback: number,
  bounds?: IntegerBounds,
): number;
export function integerOption(
  option: string,
  value: unknown,
  fallback: undefined,
  bounds?: IntegerBounds,
): number | undefined;
export function integerOption(
  option: string,
  value: unknown,
  fallback: number | undefined,
  bounds: IntegerBounds = {},
): number | undefined {
  if (value === undefined) return fallback;
  const min = bounds.min ?? 1;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(option, `expected an integer ${range}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Checks an optional function option.
 *
 * @throws {@link InvalidOptionError} naming `option`
 */
export function functionOption<F extends (...args: never[]) => unknown>(
  option: string,
  value: F | undefined,
): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidOptionError(option, `expected a function, got ${describe(value)}`);
  }
  return value;
}

/**
 * Checks that an optional option is an object (not `null`, not an array) and returns it or `{}`.
 *
 * @throws {@link InvalidOptionError} naming `option`
 */
export function objectOption<T extends object>(option: string, value: T | undefined): T | Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, `expected an object, got ${describe(value)}`);
  }
  return value;
}

/**
 * `true` when `value` is an object with every one of `methods` as a function (a structural check of
 * an adapter passed at run time, e.g. from JavaScript).
 */
export function hasMethods(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return methods.every((m) => typeof record[m] === "function");
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" || typeof value === "function") return typeof value;
  return String(value);
}
