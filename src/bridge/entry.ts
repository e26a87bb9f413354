import type { DecodeResult } from "../message/types.js";
import type { SourceMessage } from "../sources/source.js";
import type { PendingVerdict } from "./signatures.js";

/**
 * One message on its way from the source to the store, with every delivered copy of it: copies
 * that arrive while it waits (a redelivery after a reconnect) join it instead of the buffer, and
 * are acknowledged with it.
 */
export interface Entry {
  /** The de-duplication key: the same for every copy of one message. */
  readonly key: string;
  /** The decoded reading, or the rejection to record. */
  readonly result: DecodeResult;
  /** Raw payload size. */
  readonly bytes: number;
  /** The first delivery, then every copy, in arrival order. */
  readonly deliveries: SourceMessage[];
  /** The reading's signature check, started on arrival (when the bridge checks signatures). */
  signature?: PendingVerdict | undefined;
}

/**
 * Every entry between receipt and acknowledgement, by key. An entry leaves it exactly once: by
 * {@link EntryLedger.settle} after its commit (every delivery acknowledged), or by
 * {@link EntryLedger.release} (left unacknowledged on purpose, for the source to deliver again).
 */
export class EntryLedger {
  readonly #open = new Map<string, Entry>();

  /**
   * The open entry `delivery` is a copy of, with the copy attached; otherwise a new open entry.
   * @returns the entry and whether it is new
   */
  admit(key: string, result: DecodeResult, delivery: SourceMessage): { entry: Entry; copy: boolean } {
    const open = this.#open.get(key);
    if (open) {
      open.deliveries.push(delivery);
      return { entry: open, copy: true };
    }
    const entry: Entry = { key, result, bytes: delivery.payload.byteLength, deliveries: [delivery] };
    this.#open.set(key, entry);
    return { entry, copy: false };
  }

  /** Acknowledges every delivery of `entries` (committed); each entry only once. */
  settle(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (this.#open.get(entry.key) !== entry) continue;
      this.#open.delete(entry.key);
      for (const delivery of entry.deliveries) acknowledge(delivery);
    }
  }

  /** Forgets `entries` without acknowledging them: the source delivers them again later. */
  release(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (this.#open.get(entry.key) === entry) this.#open.delete(entry.key);
    }
  }
}

function acknowledge(delivery: SourceMessage): void {
  try {
    delivery.ack();
  } catch {
    // A source's ack() must not throw; if one does, the others are still acknowledged.
  }
}
