import { StoreError, VeepBridgeError } from "../errors.js";
import type { BridgeEvents } from "../events.js";
import type { TypedEventEmitter } from "./types.js";

/** `value` as an `Error`. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Emits the bridge's events without ever letting a listener's exception into the pipeline: a
 * throwing listener becomes an `error` event (`LISTENER_ERROR`); a throwing `error` listener, a
 * process warning.
 */
export class SafeEmitter {
  readonly #target: TypedEventEmitter<BridgeEvents>;

  /** @param target - the emitter listeners are attached to */
  constructor(target: TypedEventEmitter<BridgeEvents>) {
    this.#target = target;
  }

  /** `true` when `event` has listeners (to skip building payloads nobody reads). */
  listens(event: keyof BridgeEvents): boolean {
    return this.#target.listenerCount(event) > 0;
  }

  /** Emits `event`; never throws. */
  emit<K extends keyof BridgeEvents>(event: K, ...args: Parameters<BridgeEvents[K]>): void {
    try {
      (this.#target.emit as (event: K, ...rest: Parameters<BridgeEvents[K]>) => boolean)(event, ...args);
    } catch (error) {
      if (event === "error") {
        process.emitWarning(`veep-bridge: an "error" listener threw: ${asError(error).message}`);
        return;
      }
      this.error(
        new VeepBridgeError(
          "LISTENER_ERROR",
          `a "${String(event)}" listener threw: ${asError(error).message}`,
          {
            cause: error,
          },
        ),
      );
    }
  }

  /** Emits `error` with `error` as a {@link VeepBridgeError} (a foreign one wrapped as a `StoreError`). */
  error(error: unknown): void {
    const failure = asError(error);
    this.emit(
      "error",
      failure instanceof VeepBridgeError ? failure : new StoreError(failure.message, { cause: failure }),
    );
  }
}
