import { randomBytes } from "node:crypto";
import { AnchorError } from "../errors.js";
import type { Anchor, AnchoredTransaction, AnchorRequest, AnchorStatus, PreparedAnchor } from "./types.js";

/** Options of {@link memoryAnchor}. */
export interface MemoryAnchorOptions {
  /**
   * `true`: a sent transaction lands and is confirmed at once (the chain moves on one block per
   * transaction). `false`: it lands in the next block, confirmed after {@link MemoryAnchor.advance}.
   * @defaultValue true
   */
  readonly autoConfirm?: boolean;
  /**
   * Blocks a prepared transaction stays valid for (Solana: about 150).
   * @defaultValue 150
   */
  readonly validBlocks?: number;
  /**
   * Fee of one transaction in lamports.
   * @defaultValue 5000 (one signature)
   */
  readonly feeLamports?: number;
  /**
   * The confirmation check, injectable: gets the attempt and the status the simulated chain
   * reports, returns the status to report (e.g. `pending` forever for a confirmation timeout).
   * @defaultValue reports the chain's status
   */
  readonly checkStatus?: (
    attempt: { readonly signature: string; readonly validUntil: number | null },
    actual: AnchorStatus,
  ) => AnchorStatus;
}

/** A simulated chain's transaction. */
export interface MemoryChainTransaction {
  /** The memo. */
  memo: string;
  /** The block it landed in. */
  readonly slot: number;
  /** Fee paid. */
  readonly feeLamports: number;
}

/** An {@link Anchor} on a simulated in-memory chain, for tests, with controls for every failure. */
export interface MemoryAnchor extends Anchor {
  /** The landed transactions by signature (change a memo to simulate a forged chain). */
  readonly transactions: Map<string, MemoryChainTransaction>;
  /** Every `send()` call, in order (a re-send of the same transaction appears twice). */
  readonly sent: string[];
  /** The current block height. */
  height(): number;
  /** Moves the chain on `blocks` blocks (default 1): pending transactions are confirmed. */
  advance(blocks?: number): void;
  /** Moves the chain past the validity of every transaction prepared so far. */
  expireAll(): void;
  /**
   * The next `count` sends fail with an `AnchorError`; `definite: true` (the default) means the
   * transaction did not reach the chain, `false` that it did although the reply was lost.
   */
  failNextSend(count: number, options?: { readonly definite?: boolean; readonly message?: string }): void;
  /** The next `count` sends seem to succeed, but the transaction is lost on the way. */
  dropNextSend(count: number): void;
}

/**
 * Creates an anchor on a simulated chain that passes `anchorConformance`.
 * @example
 * ```ts
 * const anchor = memoryAnchor();
 * const bridge = createBridge({ source, store, anchoring: { anchor } });
 * ```
 */
export function memoryAnchor(options: MemoryAnchorOptions = {}): MemoryAnchor {
  const autoConfirm = options.autoConfirm ?? true;
  const validBlocks = options.validBlocks ?? 150;
  const fee = options.feeLamports ?? 5000;
  const transactions = new Map<string, MemoryChainTransaction>();
  const sent: string[] = [];
  const failures: { definite: boolean; message: string }[] = [];
  let drops = 0;
  let height = 0;
  let lastPreparedValidUntil = 0;

  const actualStatus = (attempt: { signature: string; validUntil: number | null }): AnchorStatus => {
    const tx = transactions.get(attempt.signature);
    if (tx)
      return tx.slot <= height
        ? { state: "confirmed", slot: tx.slot, feeLamports: tx.feeLamports }
        : { state: "pending" };
    if (attempt.validUntil !== null && height > attempt.validUntil) return { state: "expired" };
    return { state: "pending" };
  };

  return {
    name: "memory",
    transactions,
    sent,
    height: () => height,
    advance(blocks = 1) {
      height += blocks;
    },
    expireAll() {
      height = Math.max(height, lastPreparedValidUntil) + 1;
    },
    failNextSend(count, failure = {}) {
      for (let i = 0; i < count; i++)
        failures.push({
          definite: failure.definite ?? true,
          message: failure.message ?? "simulated send failure",
        });
    },
    dropNextSend(count) {
      drops += count;
    },
    async prepare(request: AnchorRequest): Promise<PreparedAnchor> {
      const signature = randomBytes(48).toString("base64url");
      const validUntil = height + validBlocks;
      lastPreparedValidUntil = Math.max(lastPreparedValidUntil, validUntil);
      return {
        signature,
        memo: request.memo,
        validUntil,
        transaction: JSON.stringify({ signature, memo: request.memo, validUntil }),
      };
    },
    async send(prepared: PreparedAnchor): Promise<void> {
      sent.push(prepared.signature);
      const failure = failures.shift();
      const { signature, memo, validUntil } = JSON.parse(prepared.transaction) as {
        signature: string;
        memo: string;
        validUntil: number;
      };
      if (failure?.definite) throw new AnchorError(failure.message, { definite: true });
      if (height > validUntil)
        throw new AnchorError(`transaction ${signature} expired: blockhash not found`, { definite: true });
      if (drops > 0) {
        drops -= 1;
        return;
      }
      if (!transactions.has(signature)) {
        const slot = autoConfirm ? ++height : height + 1;
        transactions.set(signature, { memo, slot, feeLamports: fee });
      }
      if (failure) throw new AnchorError(failure.message, { definite: false });
    },
    async status(attempt) {
      const actual = actualStatus(attempt);
      return options.checkStatus ? options.checkStatus(attempt, actual) : actual;
    },
    async read(signature: string): Promise<AnchoredTransaction | null> {
      const tx = transactions.get(signature);
      if (!tx || tx.slot > height) return null;
      return { signature, slot: tx.slot, memos: [tx.memo], feeLamports: tx.feeLamports };
    },
  };
}
