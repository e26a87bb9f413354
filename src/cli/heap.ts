import { setFlagsFromString } from "node:v8";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";

/** How much V8 lets the old generation grow between major collections in `veep-bridge run`. */
export const DEFAULT_HEAP_GROWING_PERCENT = 100;

const FLAG = /^--heap[-_]growing[-_]percent\b/;

/**
 * Makes V8 collect the old generation sooner than it would by default, for the `run` process.
 *
 * Every reading the bridge holds lives until its commit (tens of milliseconds to a second under
 * a backlog), long enough to be promoted to the old generation, and is garbage soon after. V8's
 * default lets the old generation grow to several times its live size before a major collection,
 * so a catch-up's heap reached about 120 MB for some 20 MB of live data. Letting it at most double
 * (100 %) takes some 60 MB off the process's peak at the same CPU per message; smaller values save
 * a little more memory but cost CPU in more frequent collections (see docs/performance.md).
 *
 * `VEEP_HEAP_GROWING_PERCENT` sets another value (`0`: V8's default); a `--heap-growing-percent`
 * given to Node itself (command line or `NODE_OPTIONS`) is left alone.
 *
 * @returns the percentage set, or `undefined` when V8's own setting stays
 * @throws {@link CliError} (exit 3) when `VEEP_HEAP_GROWING_PERCENT` is not an integer 0–1000
 */
export function tuneHeap(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): number | undefined {
  const nodeOptions = env.NODE_OPTIONS?.split(/\s+/) ?? [];
  if ([...execArgv, ...nodeOptions].some((arg) => FLAG.test(arg))) return undefined;
  const raw = env.VEEP_HEAP_GROWING_PERCENT?.trim();
  let percent = DEFAULT_HEAP_GROWING_PERCENT;
  if (raw !== undefined && raw !== "") {
    percent = Number(raw);
    if (!/^\d+$/.test(raw) || percent > 1000) {
      throw new CliError(
        `VEEP_HEAP_GROWING_PERCENT must be an integer from 0 (V8's default) to 1000, got "${raw}"`,
        EXIT.unavailable,
      );
    }
  }
  if (percent === 0) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
