import type pg from "pg";
import { messageCount } from "./database.js";
import { sleep } from "./net.js";

/** How waiting for the rows ended. */
export type WaitOutcome =
  | { readonly kind: "done"; readonly at: number; readonly count: number }
  | { readonly kind: "stalled" | "exited"; readonly at: number; readonly count: number };

/** Options of {@link waitForStored}. */
export interface WaitOptions {
  /** Give up after this long without a new row. */
  readonly stallMs: number;
  /** `false` once the process that should store the rows has gone. */
  readonly alive: () => boolean;
  readonly pollMs?: number;
  /** Called after every poll (live progress, RSS lines). */
  readonly onPoll?: (count: number) => void;
  /** When the writer itself reported the target reached (ms), if it did: more precise than a poll. */
  readonly reportedDoneAt?: () => number | undefined;
}

/**
 * Polls `SELECT count(*) FROM messages` until it reaches `target` (every 250 ms: a count scans the
 * table, so polling more often would slow the database it measures). Never hangs: it ends as
 * `stalled` when the count has not moved for `stallMs`, and as `exited` when the writer has died.
 * `at` is when the writer reported the target reached (its `done` line), else the poll's time.
 */
export async function waitForStored(
  client: pg.Client,
  target: number,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const pollMs = options.pollMs ?? 250;
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const count = await messageCount(client);
    const now = Date.now();
    options.onPoll?.(count);
    if (count >= target) return { kind: "done", at: Math.min(now, options.reportedDoneAt?.() ?? now), count };
    if (count !== last) [last, movedAt] = [count, now];
    if (!options.alive()) return { kind: "exited", at: now, count };
    if (now - movedAt >= options.stallMs) return { kind: "stalled", at: now, count };
    await sleep(pollMs);
  }
}
