import { setTimeout as delay } from "node:timers/promises";

/**
 * Waits `ms`, or less when `signal` aborts (a shutdown signal during `--watch`). Resolves either
 * way, and leaves no listener on `signal` behind, however often a watch loop calls it.
 */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch((error: unknown) => {
    if (!signal.aborted) throw error;
  });
}
