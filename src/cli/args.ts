import { type ParseArgsConfig, parseArgs } from "node:util";
import { usageError } from "./cli-error.js";

/** Flag definitions in `node:util` `parseArgs` form. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** Flag values as `parseArgs` returns them. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Parsed command line of one subcommand. */
export interface ParsedArgs {
  /** Flag values by name. */
  readonly values: FlagValues;
  /** Positional arguments. */
  readonly positionals: readonly string[];
}

/**
 * Parses `argv` strictly (unknown flags and missing values are usage errors naming `command`).
 * `--help`/`-h` is always accepted.
 */
export function parseCommandArgs(
  command: string,
  argv: readonly string[],
  options: FlagSpec,
  maxPositionals = 0,
): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error), command);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw usageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`, command);
  }
  return { values: parsed.values as FlagValues, positionals: parsed.positionals };
}

/** A string flag's value, or `undefined`. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A boolean flag's value (`false` when absent). */
export function booleanFlag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}

/** Parses a positive integer from a flag or variable, naming it in the usage error. */
export function positiveIntegerFlag(
  command: string,
  name: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number <= 0) {
    throw usageError(`${name} expects a positive integer, got "${value}"`, command);
  }
  return number;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A point in time from `--before DATE` (ISO 8601: `2026-09-01` is midnight UTC) or `--older-than
 * DURATION` (that long before now); exactly one must be given.
 */
export function cutoffFlag(command: string, values: FlagValues): Date {
  const before = stringFlag(values, "before");
  const olderThan = stringFlag(values, "older-than");
  if ((before === undefined) === (olderThan === undefined))
    throw usageError("give --before DATE or --older-than DURATION (e.g. 90d)", command);
  if (olderThan !== undefined)
    return new Date(Date.now() - durationFlag(command, "--older-than", olderThan)!);
  const date = new Date(before!);
  if (!/^\d{4}-\d{2}-\d{2}/.test(before!) || Number.isNaN(date.getTime()))
    throw usageError(`--before expects an ISO 8601 date like 2026-09-01, got "${before}"`, command);
  return date;
}

/** Parses a duration such as `20`, `20s`, `1500ms`, `2m`, `6h` or `90d` into milliseconds. */
export function durationFlag(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match)
    throw usageError(
      `${name} expects a duration like 20, 20s, 1500ms, 2m, 6h or 90d, got "${value}"`,
      command,
    );
  const amount = Number(match[1]);
  const ms = amount * UNIT_MS[(match[2] ?? "s") as keyof typeof UNIT_MS];
  if (ms <= 0) throw usageError(`${name} must be longer than zero`, command);
  return Math.round(ms);
}
