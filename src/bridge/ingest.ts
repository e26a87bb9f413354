import type { WriteBuffer } from "../batching/index.js";
import { VeepBridgeError } from "../errors.js";
import type { Decoder } from "../message/index.js";
import type { DecodeResult } from "../message/types.js";
import type { SourceMessage } from "../sources/source.js";
import { deadLetterKey, duplicateKey } from "../stores/duplicate-key.js";
import type { BridgeContext } from "./context.js";
import type { Entry, EntryLedger } from "./entry.js";
import { asError } from "./safe-emit.js";

function keyOf(result: DecodeResult): string {
  return result.ok
    ? duplicateKey(result.reading.messageHash, result.reading.deviceId)
    : deadLetterKey(result.rejection);
}

/**
 * Where deliveries enter: each is decoded once (a throwing decoder yields a `decode_failed`
 * rejection, never a lost message), recognised if it copies one still waiting, and buffered; the
 * source is paused while the buffer is full (in messages or in bytes) and resumed at half.
 */
export class Ingest {
  readonly #context: BridgeContext;
  readonly #decoder: Decoder;
  readonly #ledger: EntryLedger;
  readonly #buffer: WriteBuffer<Entry>;
  #paused = false;
  #overflowReported = false;

  /**
   * @param context - the bridge's shared parts
   * @param decoder - payload decoder
   * @param ledger - the entries awaiting acknowledgement
   * @param buffer - the write buffer
   */
  constructor(context: BridgeContext, decoder: Decoder, ledger: EntryLedger, buffer: WriteBuffer<Entry>) {
    this.#context = context;
    this.#decoder = decoder;
    this.#ledger = ledger;
    this.#buffer = buffer;
  }

  /** Takes one delivery from the source. */
  receive(message: SourceMessage): void {
    const { counters, events } = this.#context;
    counters.received++;
    if (message.redelivered === true) counters.redelivered++;
    const bytes = message.payload.byteLength;
    if (events.listens("received")) {
      events.emit("received", {
        topic: message.topic,
        bytes,
        receivedAt: message.receivedAt,
        redelivered: message.redelivered === true,
      });
    }
    const result = this.#decode(message);
    const { entry, copy } = this.#ledger.admit(keyOf(result), result, message);
    if (copy) return;
    const { signatures } = this.#context;
    // Started now, so that the Ed25519 verify runs on the thread pool while earlier commits are written.
    if (signatures !== undefined && result.ok) entry.signature = signatures.begin(result.reading);
    if (!this.#buffer.add(entry)) {
      this.#ledger.release([entry]);
      this.#reportOverflow();
      return;
    }
    this.#checkFull();
  }

  /** Resumes the source once the buffer is down to half its capacity (call after each commit). */
  checkDrained(): void {
    if (!this.#paused) return;
    const { capacity, capacityBytes } = this.#context.options.writeBuffer;
    if (this.#buffer.size > capacity / 2 || this.#buffer.bytes > capacityBytes / 2) return;
    this.#paused = false;
    this.#overflowReported = false;
    // Announced before resuming: a source may deliver at once, and a listener must see this drain
    // before any backpressure those deliveries cause.
    this.#context.events.emit("drain", this.#pressure());
    this.#context.options.source.resume();
  }

  #checkFull(): void {
    if (this.#paused || !this.#buffer.full) return;
    this.#paused = true;
    this.#context.options.source.pause();
    this.#context.events.emit("backpressure", this.#pressure());
  }

  #pressure() {
    const { capacity, capacityBytes } = this.#context.options.writeBuffer;
    return { buffered: this.#buffer.size, bufferedBytes: this.#buffer.bytes, capacity, capacityBytes };
  }

  #decode(message: SourceMessage): DecodeResult {
    try {
      return this.#decoder.decode(message);
    } catch (error) {
      const { topic, payload, receivedAt } = message;
      return {
        ok: false,
        rejection: { topic, payload, receivedAt, reason: "decode_failed", detail: asError(error).message },
      };
    }
  }

  #reportOverflow(): void {
    if (this.#overflowReported) return;
    this.#overflowReported = true;
    this.#context.events.error(
      new VeepBridgeError(
        "BACKPRESSURE",
        `source ${this.#context.options.source.name} kept delivering while paused; messages beyond the write ` +
          "buffer's capacity are left unacknowledged for redelivery",
      ),
    );
  }
}
