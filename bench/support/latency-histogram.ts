import type { LatencySummary } from "./child-protocol.js";

/**
 * Exact percentiles of millisecond latencies in bounded memory: `Date` gives whole milliseconds,
 * so a count per distinct value is exact and stays small (a few thousand entries), where an array
 * of a million samples would itself show up in the RSS being measured.
 */
export class LatencyHistogram {
  readonly #counts = new Map<number, number>();
  #total = 0;

  /** Records one latency in milliseconds (rounded to a whole millisecond). */
  record(ms: number): void {
    const key = Math.max(0, Math.round(ms));
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#total++;
  }

  /** p50, p95, p99 and max (nearest-rank); all zero when nothing was recorded. */
  summary(): LatencySummary {
    const values = [...this.#counts.keys()].sort((a, b) => a - b);
    const ranks = [0.5, 0.95, 0.99].map((q) => Math.max(1, Math.ceil(q * this.#total)));
    const found: number[] = [];
    let seen = 0;
    for (const value of values) {
      seen += this.#counts.get(value) ?? 0;
      while (found.length < ranks.length && seen >= ranks[found.length]!) found.push(value);
    }
    const [p50 = 0, p95 = 0, p99 = 0] = found;
    return { count: this.#total, p50, p95, p99, max: values.at(-1) ?? 0 };
  }
}
