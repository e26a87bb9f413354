import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../batching/clock.js";
import { AnchorError, InvalidOptionError } from "../errors.js";
import { integerOption, MAX_TIMER_DELAY_MS, objectOption } from "../validation.js";
import { planAggregate } from "./aggregate.js";
import { anchorMemo } from "./memo.js";
import type { Anchor, AnchorAttempt, AnchorLedger, AnchorStatus, AnchorWork } from "./types.js";

/** What happened to a batch during an anchoring pass (`onEvent`). */
export type AnchorEvent =
  | {
      /** A transaction was recorded and sent. */
      readonly type: "sent";
      /** The batch. */
      readonly batchId: string;
      /** Its signature. */
      readonly signature: string;
      /** Its memo. */
      readonly memo: string;
    }
  | {
      /** A transaction was confirmed and the batch is `blockchain_confirmed`. */
      readonly type: "confirmed";
      /** The batch. */
      readonly batchId: string;
      /** Its signature. */
      readonly signature: string;
      /** The slot it landed in. */
      readonly slot: number;
      /** Fee paid, in lamports. */
      readonly feeLamports: number;
    }
  | {
      /** A transaction can no longer land (its blockhash expired); another one is sent. */
      readonly type: "expired";
      /** The batch. */
      readonly batchId: string;
      /** The expired signature. */
      readonly signature: string;
    }
  | {
      /** The batch is `failed` and will be retried at `retryAt`. */
      readonly type: "failed";
      /** The batch. */
      readonly batchId: string;
      /** Why. */
      readonly reason: string;
      /** When the next attempt is due. */
      readonly retryAt: Date;
    };

/** Options of {@link anchorBatches}. */
export interface AnchoringOptions {
  /** Where roots are anchored (`solanaAnchor` from `veep-bridge/solana`, `memoryAnchor`, …). */
  readonly anchor: Anchor;
  /**
   * Name of this worker in the batches' leases.
   * @defaultValue `anchor-` and a random id
   */
  readonly owner?: string;
  /**
   * Batches claimed per pass.
   * @defaultValue 20
   */
  readonly batchLimit?: number;
  /**
   * How long a claimed batch stays leased to this worker (a crashed worker's batches are taken
   * over after it), in milliseconds.
   * @defaultValue 120000
   */
  readonly leaseMs?: number;
  /**
   * A sent transaction not confirmed within this time marks its batch `failed` (it is checked
   * again, and re-sent only once it has expired), in milliseconds.
   * @defaultValue 120000
   */
  readonly confirmTimeoutMs?: number;
  /**
   * Backoff of failed batches: first wait and longest wait, in milliseconds.
   * @defaultValue `{ initialDelayMs: 2000, maxDelayMs: 600000 }`
   */
  readonly retry?: {
    /** Wait after the first failure. */
    readonly initialDelayMs?: number;
    /** Longest wait. */
    readonly maxDelayMs?: number;
  };
  /**
   * Anchor several batches in one transaction (one fee for all of them): the memo
   * `veep-bridge:v2:<batchCount>:<rootHex>` states the RFC 9162 root over the batches, and each
   * batch keeps its path to that root, which proofs then include. A batch waits for company up to
   * `maxWaitMs`, so aggregation cuts the fee by up to `maxBatches` at the cost of that latency.
   * Off by default: one transaction per batch (`veep-bridge:v1`).
   */
  readonly aggregate?: AggregationOptions;
  /**
   * Clock (tests).
   * @defaultValue the system clock
   */
  readonly clock?: Clock;
  /** Called for each {@link AnchorEvent}; an exception it throws is ignored. */
  readonly onEvent?: (event: AnchorEvent) => void;
}

/** How {@link AnchoringOptions.aggregate} groups batches into one transaction. */
export interface AggregationOptions {
  /** Most batches one transaction anchors (2 to 1024). */
  readonly maxBatches: number;
  /**
   * A group smaller than `maxBatches` is sent once its oldest batch has waited this long since its
   * last reading, in milliseconds.
   * @defaultValue 60000
   */
  readonly maxWaitMs?: number;
}

/** What one pass did. */
export interface AnchorPassResult {
  /** Batches looked at. */
  readonly claimed: number;
  /** Transactions sent (an aggregate counts once). */
  readonly sent: number;
  /** Batches confirmed. */
  readonly confirmed: number;
  /** Batches that failed in this pass. */
  readonly failed: number;
  /** Batches still waiting for their confirmation. */
  readonly inFlight: number;
}

/** Runs anchoring passes; see {@link anchorBatches}. */
export interface Anchorer {
  /** The worker's lease name. */
  readonly owner: string;
  /** Claims due batches and moves each one step on: send, confirm, expire and re-send, fail. */
  runOnce(): Promise<AnchorPassResult>;
}

function aggregationOptions(
  value: AggregationOptions | undefined,
): { readonly maxBatches: number; readonly maxWaitMs: number } | undefined {
  if (value === undefined) return undefined;
  const options = objectOption("anchoring.aggregate", value);
  if (options.maxBatches === undefined)
    throw new InvalidOptionError("anchoring.aggregate.maxBatches", "is required: an integer from 2 to 1024");
  return {
    maxBatches: integerOption("anchoring.aggregate.maxBatches", options.maxBatches, 2, {
      min: 2,
      max: 1024,
    }),
    maxWaitMs: integerOption("anchoring.aggregate.maxWaitMs", options.maxWaitMs, 60_000, {
      min: 0,
      max: MAX_TIMER_DELAY_MS,
    }),
  };
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The anchoring worker over a store's {@link AnchorLedger}: each pass claims sealed batches and
 * takes them through `complete` → `blockchain_pending` → `blockchain_confirmed`.
 *
 * @remarks Each attempt is recorded (with its signature) before it is sent, so a crash between
 * send and store leaves a signature to look up. A new transaction is sent for a batch only when
 * every earlier one is known to have expired or failed, so a batch is never anchored twice
 * unnoticed, and never left unanchored. Errors move the batch to `failed` with the reason and it
 * is retried with exponential backoff.
 * @example
 * ```ts
 * const anchorer = anchorBatches(store, { anchor: memoryAnchor() });
 * await anchorer.runOnce();
 * ```
 */
export function anchorBatches(ledger: AnchorLedger, options: AnchoringOptions): Anchorer {
  const anchor = options.anchor;
  const owner = options.owner ?? `anchor-${randomUUID().slice(0, 8)}`;
  const aggregate = aggregationOptions(options.aggregate);
  // A pass claims at least one full aggregate.
  const limit = Math.max(
    integerOption("anchoring.batchLimit", options.batchLimit, 20, { min: 1, max: 10_000 }),
    aggregate?.maxBatches ?? 0,
  );
  const leaseMs = integerOption("anchoring.leaseMs", options.leaseMs, 120_000, { min: 1 });
  const confirmTimeoutMs = integerOption("anchoring.confirmTimeoutMs", options.confirmTimeoutMs, 120_000, {
    min: 0,
  });
  const initialDelayMs = integerOption(
    "anchoring.retry.initialDelayMs",
    options.retry?.initialDelayMs,
    2000,
    {
      min: 0,
    },
  );
  const maxDelayMs = integerOption("anchoring.retry.maxDelayMs", options.retry?.maxDelayMs, 600_000, {
    min: initialDelayMs,
  });
  const clock = options.clock ?? systemClock;
  const emit = (event: AnchorEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // a listener never stops anchoring
    }
  };
  const retryAt = (failures: number): Date =>
    new Date(clock.now() + Math.min(maxDelayMs, initialDelayMs * 2 ** Math.max(0, failures)));

  const fail = async (work: AnchorWork, reason: string): Promise<void> => {
    const at = retryAt(work.failures);
    await ledger.failAnchor(work.batch.batchId, reason, at);
    emit({ type: "failed", batchId: work.batch.batchId, reason, retryAt: at });
  };

  /** The status of a sent transaction, asked once per pass (an aggregate's batches share it). */
  const statusOf = (
    cache: Map<string, Promise<AnchorStatus>>,
    attempt: AnchorAttempt,
  ): Promise<AnchorStatus> => {
    let status = cache.get(attempt.signature);
    if (status === undefined) {
      status = anchor.status(attempt);
      cache.set(attempt.signature, status);
    }
    return status;
  };

  /**
   * Moves one batch's sent transactions on (confirm, expire, fail); returns what it did, or
   * `"send"` when the batch needs a new transaction.
   */
  const check = async (
    work: AnchorWork,
    cache: Map<string, Promise<AnchorStatus>>,
  ): Promise<"send" | "confirmed" | "failed" | "inFlight" | "none"> => {
    const { batch } = work;
    if (batch.status === "blockchain_confirmed") return "none";
    let inFlight = false;
    let timedOut: string | undefined;
    for (const attempt of work.attempts) {
      if (attempt.status !== "pending") continue;
      const status = await statusOf(cache, attempt);
      if (status.state === "confirmed") {
        await ledger.confirmAnchor(batch.batchId, attempt.signature, status);
        emit({
          type: "confirmed",
          batchId: batch.batchId,
          signature: attempt.signature,
          slot: status.slot,
          feeLamports: status.feeLamports,
        });
        return "confirmed";
      }
      if (status.state === "expired") {
        await ledger.resolveAnchorAttempt(attempt.signature, "expired", "blockhash expired before it landed");
        emit({ type: "expired", batchId: batch.batchId, signature: attempt.signature });
      } else if (status.state === "failed") {
        await ledger.resolveAnchorAttempt(attempt.signature, "failed", status.reason);
        await fail(work, `transaction ${attempt.signature} failed on chain: ${status.reason}`);
        return "failed";
      } else {
        inFlight = true;
        if (clock.now() - attempt.createdAt.getTime() > confirmTimeoutMs)
          timedOut = `transaction ${attempt.signature} not confirmed within ${confirmTimeoutMs} ms; it is re-sent once its blockhash expires`;
      }
    }
    if (inFlight) {
      if (timedOut !== undefined && batch.status !== "failed") {
        await fail(work, timedOut);
        return "failed";
      }
      return "inFlight";
    }
    return "send";
  };

  /**
   * Prepares, records (for every batch, before sending) and sends one transaction for `group`:
   * a `v1` memo for one batch, a `v2` aggregate for several. Returns the batches that failed.
   */
  const send = async (group: readonly AnchorWork[]): Promise<number> => {
    const fields = group.map(({ batch }) => ({
      batchId: batch.batchId,
      messageCount: batch.messageCount,
      root: batch.batchHash,
    }));
    const plan = group.length > 1 ? planAggregate(fields) : undefined;
    const memo = plan?.memo ?? anchorMemo(fields[0]!);
    const failAll = async (reason: string): Promise<number> => {
      for (const work of group) await fail(work, reason);
      return group.length;
    };
    let prepared: Awaited<ReturnType<Anchor["prepare"]>>;
    try {
      prepared = await anchor.prepare({ batchId: fields[0]!.batchId, memo });
    } catch (error) {
      return failAll(`preparing the transaction failed: ${reasonOf(error)}`);
    }
    for (const [i, work] of group.entries()) {
      await ledger.recordAnchorAttempt({
        batchId: work.batch.batchId,
        signature: prepared.signature,
        memo,
        validUntil: prepared.validUntil,
        ...(plan ? { aggregation: plan.paths[i]! } : {}),
      });
    }
    try {
      await anchor.send(prepared);
    } catch (error) {
      if (error instanceof AnchorError && error.definite)
        await ledger.resolveAnchorAttempt(prepared.signature, "failed", reasonOf(error));
      return failAll(`sending transaction ${prepared.signature} failed: ${reasonOf(error)}`);
    }
    for (const work of group)
      emit({ type: "sent", batchId: work.batch.batchId, signature: prepared.signature, memo });
    return 0;
  };

  /** The groups to send now: single batches, or aggregates that are full or have waited long enough. */
  const groups = (due: readonly AnchorWork[]): AnchorWork[][] => {
    if (aggregate === undefined) return due.map((work) => [work]);
    const result: AnchorWork[][] = [];
    for (let i = 0; i < due.length; i += aggregate.maxBatches) {
      const group = due.slice(i, i + aggregate.maxBatches);
      const oldest = Math.min(
        ...group.map(({ batch }) => (batch.endTimestamp ?? batch.startTimestamp ?? new Date(0)).getTime()),
      );
      if (group.length === aggregate.maxBatches || clock.now() - oldest >= aggregate.maxWaitMs)
        result.push(group);
    }
    return result;
  };

  return {
    owner,
    async runOnce() {
      const claimed = await ledger.claimAnchorWork({ owner, limit, leaseMs });
      const counts = { sent: 0, confirmed: 0, failed: 0, inFlight: 0 };
      const cache = new Map<string, Promise<AnchorStatus>>();
      const due: AnchorWork[] = [];
      const failWork = async (work: AnchorWork, error: unknown): Promise<void> => {
        try {
          await fail(work, `anchoring failed: ${reasonOf(error)}`);
        } catch {
          // the store is unreachable: the lease runs out and the batch is taken up again
        }
        counts.failed += 1;
      };
      try {
        for (const work of claimed) {
          try {
            const done = await check(work, cache);
            if (done === "send") due.push(work);
            else if (done !== "none") counts[done] += 1;
          } catch (error) {
            await failWork(work, error);
          }
        }
        for (const group of groups(due)) {
          try {
            const failed = await send(group);
            counts.failed += failed;
            if (failed === 0) {
              counts.sent += 1;
              counts.inFlight += group.length;
            }
          } catch (error) {
            for (const work of group) await failWork(work, error);
          }
        }
      } finally {
        for (const work of claimed)
          await ledger.releaseAnchorWork(work.batch.batchId, owner).catch(() => undefined);
      }
      return { claimed: claimed.length, ...counts };
    },
  };
}
