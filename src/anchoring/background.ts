import type { TimerHandle } from "../batching/clock.js";
import { type Clock, systemClock } from "../batching/clock.js";
import { type AnchorEvent, type Anchorer, type AnchoringOptions, anchorBatches } from "./anchorer.js";
import type { AnchorLedger } from "./types.js";

/** How long a bridge's stop waits for a running anchoring pass. */
const STOP_WAIT_MS = 5000;

/** Anchoring inside a bridge: {@link AnchoringOptions} plus how often to look for work. */
export interface BridgeAnchoringOptions extends AnchoringOptions {
  /**
   * How often the bridge looks for batches to anchor or confirm, besides right after each seal, in
   * milliseconds.
   * @defaultValue 5000
   */
  readonly intervalMs?: number;
}

/**
 * Runs anchoring passes in the background: after each kick (a sealed batch) and on a timer, one
 * pass at a time, never in the ingest path. Errors go to `onError`; the next pass tries again.
 */
export class BackgroundAnchoring {
  readonly #anchorer: Anchorer;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: TimerHandle | undefined;
  #stopped = false;

  /**
   * @param ledger - the store's anchoring lifecycle
   * @param options - anchor and worker options
   * @param onEvent - each {@link AnchorEvent}
   * @param onError - a pass that failed
   */
  constructor(
    ledger: AnchorLedger,
    options: BridgeAnchoringOptions,
    onEvent: (event: AnchorEvent) => void,
    onError: (error: unknown) => void,
  ) {
    this.#anchorer = anchorBatches(ledger, {
      ...options,
      onEvent: (event) => {
        onEvent(event);
        options.onEvent?.(event);
      },
    });
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#onError = onError;
  }

  /** Starts the timer and a first pass. */
  start(): void {
    this.kick();
  }

  /** Runs a pass soon (one more after the current one, if one is running). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          const result = await this.#anchorer.runOnce();
          if (result.sent > 0) this.#again = true; // confirm what was just sent
        } catch (error) {
          if (!this.#stopped) this.#onError(error);
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
      this.#arm();
    });
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.kick();
    }, this.#intervalMs);
  }

  /**
   * Stops: no new pass; resolves when the running one has ended, or after `waitMs` (a chain call
   * that hangs must not hold the bridge's stop: the batch's lease runs out and the attempt, already
   * recorded, is looked up by the next worker).
   */
  async stop(waitMs = STOP_WAIT_MS): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (!this.#running) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#running,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
