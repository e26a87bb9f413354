import { memoMismatch } from "./memo.js";
import type { Anchor, AnchorLedger } from "./types.js";

/** The check of one anchored batch against the chain. */
export interface AnchorVerification {
  /** The batch. */
  readonly batchId: string;
  /** `true` when the chain's memo names the stored root and count. */
  readonly ok: boolean;
  /** The stored signature. */
  readonly signature: string;
  /** The stored slot. */
  readonly slot: number | null;
  /** The stored root (`batch_hash`). */
  readonly storedRoot: string;
  /** The stored message count. */
  readonly messageCount: number;
  /** The memo found on chain, or `null` when the transaction was not found. */
  readonly chainMemo: string | null;
  /** What does not match, when `ok` is false. */
  readonly failure?: string;
}

/**
 * Reads each confirmed anchor's transaction from the chain and checks that its memo names the
 * batch's stored root and message count (and the slot the store recorded): a `veep-bridge:v1` memo
 * directly, a `veep-bridge:v2` aggregate through the batch's stored path to the anchored root. An insider who rewrites
 * a reading and recomputes its hash, the leaves and the root passes the database checks, but not
 * this one.
 * @example
 * ```ts
 * for await (const result of verifyAnchors(store, anchor)) if (!result.ok) console.error(result.failure);
 * ```
 */
export async function* verifyAnchors(
  ledger: Pick<AnchorLedger, "listAnchors">,
  chain: Pick<Anchor, "read">,
): AsyncGenerator<AnchorVerification, void, undefined> {
  for await (const anchored of ledger.listAnchors()) {
    const { batch } = anchored;
    const base = {
      batchId: anchored.batchId,
      signature: anchored.signature,
      slot: anchored.slot,
      storedRoot: batch.batchHash,
      messageCount: batch.messageCount,
    };
    const tx = await chain.read(anchored.signature);
    if (!tx) {
      yield {
        ...base,
        ok: false,
        chainMemo: null,
        failure: `transaction ${anchored.signature} not found on chain`,
      };
      continue;
    }
    const memo = tx.memos.find((m) => m.startsWith("veep-bridge:")) ?? tx.memos[0] ?? null;
    const expected = { batchId: batch.batchId, messageCount: batch.messageCount, root: batch.batchHash };
    let failure = memoMismatch(memo, expected, anchored.aggregation);
    if (failure === null && anchored.slot !== null && tx.slot !== anchored.slot)
      failure = `the transaction landed in slot ${tx.slot}, the database says ${anchored.slot}`;
    yield { ...base, ok: failure === null, chainMemo: memo, ...(failure !== null ? { failure } : {}) };
  }
}
