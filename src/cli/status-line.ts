import type { BridgeStats } from "../index.js";

const number = new Intl.NumberFormat("en-US");

/** Messages per second between two readings of `received`. */
export function messageRate(previous: number, current: number, elapsedMs: number): number {
  return elapsedMs > 0 ? ((current - previous) * 1000) / elapsedMs : 0;
}

/** One status line: msg/s, stored, rejected, open batch size, last sealed batch. */
export function formatStatus(stats: BridgeStats, ratePerSecond: number): string {
  const last = stats.lastSealed
    ? `last sealed ${stats.lastSealed.batchId.slice(0, 8)} (${number.format(stats.lastSealed.messageCount)})`
    : "none sealed yet";
  return [
    `${number.format(Math.round(ratePerSecond))} msg/s`,
    `stored ${number.format(stats.stored)}`,
    `rejected ${number.format(stats.rejected)}`,
    `dup ${number.format(stats.duplicates)}`,
    `open batch ${number.format(stats.openBatchSize)}`,
    `${number.format(stats.sealedBatches)} sealed, ${last}`,
  ].join(" · ");
}

/** A line redrawn in place on a terminal; other lines are printed above it. */
export class StatusLine {
  #current = "";
  readonly #stream: NodeJS.WriteStream;

  /** @param stream - a TTY stream */
  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  /** Replaces the status line. */
  update(text: string): void {
    const width = this.#stream.columns ?? 120;
    this.#current = text.length >= width ? `${text.slice(0, width - 2)}…` : text;
    this.#stream.write(`\r\x1b[2K${this.#current}`);
  }

  /** Prints `line` above the status line and redraws it. */
  log(line: string): void {
    this.#stream.write(`\r\x1b[2K${line}\n${this.#current}`);
  }

  /** Leaves the last status on its own line. */
  finish(): void {
    if (this.#current) this.#stream.write("\n");
    this.#current = "";
  }
}
