/**
 * The line protocol between the bench and the bridge processes it runs (bridge-child.ts and
 * naive-bridge.ts): one JSON object per stdout line, each with a `type`.
 *
 * - `starting` `{ at }`: just before connecting (wall clock, ms), the start of a catch-up
 * - `ready` `{ at }`: subscribed and running
 * - `progress` `{ stats, memory? }`: every second, so the figures survive a child that must be killed
 * - `done` `{ at }`: the moment its own count of stored readings reached `BENCH_TARGET` (wall clock)
 * - `source` / `error`: connection changes and errors, relayed as they happen
 * - `final` `{ stats, latency, maxRssKb }`: after a drained stop on SIGTERM, then the process exits
 * - `fatal` `{ message }`: start failed
 */

/** Counters every bench child reports; `received` counts every delivery, redeliveries included. */
export interface ChildStats {
  readonly received: number;
  readonly stored: number;
  readonly duplicates?: number;
  readonly rejected?: number;
}

/** Receipt→COMMIT latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** One parsed line. */
export interface ChildLine {
  readonly type: string;
  readonly at?: number;
  readonly stats?: ChildStats;
  readonly latency?: LatencySummary;
  readonly maxRssKb?: number;
  /** CPU time (user + system, all threads) since just before `start()`, in ms. */
  readonly cpuMs?: number;
  readonly message?: string;
  readonly [key: string]: unknown;
}

/** Writes one protocol line to stdout. */
export function emit(line: ChildLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Parses one stdout line; `undefined` for anything that is not a protocol line. */
export function parseLine(text: string): ChildLine | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && typeof (value as ChildLine).type === "string") {
      return value as ChildLine;
    }
  } catch {
    // not ours
  }
  return undefined;
}
