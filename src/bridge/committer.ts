import { roomFor } from "../batching/index.js";
import type { Reading, Rejection } from "../message/types.js";
import type { AppendResult } from "../stores/store.js";
import type { BridgeContext } from "./context.js";
import type { Entry, EntryLedger } from "./entry.js";
import { waitToRetry } from "./retry.js";
import type { Sealer } from "./sealer.js";
import type { PendingVerdict } from "./signatures.js";

interface Appended {
  readonly result: AppendResult;
  /** Readings an earlier, failed attempt had committed after all (the store now calls them duplicates). */
  readonly recovered: number;
}

/**
 * The commit path: writes what the write buffer hands over, in order, in as many appends as the
 * open batch's limits need (sealing between them), retrying each until the store commits it; then
 * records the result and acknowledges every delivery of the committed entries.
 */
export class Committer {
  readonly #context: BridgeContext;
  readonly #sealer: Sealer;
  readonly #ledger: EntryLedger;

  /**
   * @param context - the bridge's shared parts
   * @param sealer - keeper of the open batch
   * @param ledger - the entries awaiting acknowledgement
   */
  constructor(context: BridgeContext, sealer: Sealer, ledger: EntryLedger) {
    this.#context = context;
    this.#sealer = sealer;
    this.#ledger = ledger;
  }

  /**
   * Commits `entries` (the write buffer's commit). Rejects only when the bridge stops: the entries
   * not committed by then are released, unacknowledged, for the source to deliver again.
   */
  async commit(entries: Entry[]): Promise<void> {
    let rest = entries;
    try {
      while (rest.length > 0) {
        const chunk = rest;
        rest = await this.#context.queue.run(() => this.#commitChunk(chunk));
      }
    } catch (error) {
      this.#ledger.release(rest);
      throw error;
    }
  }

  /** Appends the longest prefix of `entries` the open batch can take; returns the rest. */
  async #commitChunk(entries: Entry[]): Promise<Entry[]> {
    const sizes: number[] = [];
    for (const { result } of entries) if (result.ok) sizes.push(result.reading.byteLength);
    await this.#sealer.sealIfDue(sizes[0]);
    const room = roomFor(this.#sealer.batch, this.#context.options.batch, sizes);
    let end = 0;
    for (let taken = 0; end < entries.length; end++) {
      if (!entries[end]!.result.ok) continue;
      if (taken === room) break;
      taken++;
    }
    const chunk = entries.slice(0, end);
    let readings: Reading[] = [];
    const rejections: Rejection[] = [];
    const begun: (PendingVerdict | undefined)[] = [];
    for (const { result, signature } of chunk) {
      if (result.ok) {
        readings.push(result.reading);
        begun.push(signature);
      } else {
        rejections.push(result.rejection);
      }
    }
    const { signatures } = this.#context;
    if (signatures !== undefined) {
      const refreshError = await signatures.refreshIfDue();
      if (refreshError !== undefined) this.#context.events.error(refreshError);
      if (readings.length > 0) {
        const checked = await signatures.check(readings, begun);
        if (checked.reloadError !== undefined) this.#context.events.error(checked.reloadError);
        readings = checked.readings;
        rejections.push(...checked.rejections);
      }
    }
    const started = this.#context.clock.now();
    const appended = await this.#appendWithRetry(readings, rejections);
    let applied = true;
    try {
      this.#record(appended, chunk, rejections, this.#context.clock.now() - started);
    } catch (error) {
      applied = false;
      this.#context.events.error(error);
    } finally {
      this.#ledger.settle(chunk);
    }
    // The store committed something the open batch could not follow: take the store's word for it.
    if (!applied) await this.#sealer.resync().catch((error: unknown) => this.#context.events.error(error));
    await this.#sealer.sealIfDue();
    return entries.slice(end);
  }

  /** Appends until the store commits, or throws `STOPPED` when the bridge stops first. */
  async #appendWithRetry(readings: readonly Reading[], rejections: readonly Rejection[]): Promise<Appended> {
    const committedEarlier = new Set<string>();
    let sealedBehind = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const { maxMessages } = this.#context.options.batch;
        const result = await this.#context.store.append(
          this.#sealer.batch.request(readings, rejections, maxMessages),
        );
        const known = result.duplicates.filter((r) => committedEarlier.has(r.messageHash)).length;
        return { result, recovered: Math.min(result.duplicates.length, known + sealedBehind) };
      } catch (error) {
        await waitToRetry(this.#context, "append", attempt, error);
        const found = await this.#sealer.resync().catch(() => undefined);
        for (const hash of found?.hashes ?? []) committedEarlier.add(hash);
        sealedBehind += found?.sealedBehind ?? 0;
      }
    }
  }

  #record(
    { result, recovered }: Appended,
    chunk: readonly Entry[],
    rejections: readonly Rejection[],
    durationMs: number,
  ): void {
    const { counters, events, clock } = this.#context;
    const plan = result.plan;
    const batch = this.#sealer.batch;
    if (plan) this.#sealer.applied(plan, result.sealed === true);
    let copies = 0;
    for (const entry of chunk) copies += entry.deliveries.length - 1;
    const repeated = result.duplicateRejections ?? [];
    const stored = (plan?.leaves.length ?? 0) + recovered;
    const duplicates = result.duplicates.length - recovered + copies + repeated.length;
    const recorded = repeated.length === 0 ? rejections : withoutAny(rejections, repeated);
    const rejected = recorded.length + result.refused.length;
    counters.stored += stored;
    counters.duplicates += duplicates;
    counters.rejected += rejected;
    if (rejected > 0 && events.listens("rejected")) {
      for (const rejection of recorded) this.#emitRejected(rejection);
      for (const refusal of result.refused) this.#emitRejected(refusal);
    }
    if (!events.listens("stored")) return;
    events.emit("stored", {
      batchId: batch.batchId,
      stored,
      duplicates,
      rejected,
      batchSize: batch.messageCount,
      batchHash: batch.batchHash,
      durationMs,
      committedAt: new Date(clock.now()),
      readings: plan?.leaves.map((leaf) => leaf.reading) ?? [],
    });
  }

  #emitRejected(rejection: Rejection): void {
    this.#context.events.emit("rejected", {
      topic: rejection.topic,
      reason: rejection.reason,
      detail: rejection.detail,
    });
  }
}

/** `items` without those in `removed` (by identity). */
function withoutAny<T>(items: readonly T[], removed: readonly T[]): T[] {
  const skip = new Set(removed);
  return items.filter((item) => !skip.has(item));
}
