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

/** Parses a duration such as `20`, `20s`, `1500ms` or `2m` into milliseconds. */
export function durationFlag(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match)
    throw usageError(`${name} expects a duration like 20, 20s, 1500ms or 2m, got "${value}"`, command);
  const amount = Number(match[1]);
  const unit = match[2] ?? "s";
  const ms = unit === "ms" ? amount : unit === "s" ? amount * 1000 : amount * 60_000;
  if (ms <= 0) throw usageError(`${name} must be longer than zero`, command);
  return Math.round(ms);
}
