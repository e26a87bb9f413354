import {
  type Address,
  type Blockhash,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  type Lamports,
  type Signature,
  type Transaction,
} from "@solana/kit";
import { AnchorError } from "../errors.js";
import type { SolanaClient, SolanaTransactionInfo } from "./client.js";

/** The result of a LiteSVM transaction, typed structurally (litesvm's `TransactionMetadata`). */
export interface LiteSvmTransactionMetadata {
  /** Program logs. */
  logs(): string[];
}

/** A failed LiteSVM transaction (litesvm's `FailedTransactionMetadata`). */
export interface LiteSvmFailedTransaction {
  /** The error (a number or an object). */
  err(): unknown;
  /** Its metadata. */
  meta(): LiteSvmTransactionMetadata;
}

/**
 * The part of litesvm's `LiteSVM` that {@link litesvmClient} calls, typed structurally so that
 * `veep-bridge/solana` never imports litesvm (a test-only package).
 */
export interface LiteSvmLike {
  /** The current blockhash. */
  latestBlockhash(): Blockhash;
  /** Runs a transaction. */
  sendTransaction(tx: Transaction): LiteSvmTransactionMetadata | LiteSvmFailedTransaction;
  /** A processed transaction by signature. */
  getTransaction(signature: Signature): LiteSvmTransactionMetadata | LiteSvmFailedTransaction | null;
  /** Balance of an account. */
  getBalance(address: Address): Lamports | null;
  /** Makes the current blockhash invalid. */
  expireBlockhash(): void;
  /** The clock sysvar (its `slot`). */
  getClock(): {
    /** The current slot. */
    readonly slot: bigint;
  };
  /** Moves to a slot. */
  warpToSlot(slot: bigint): void;
}

/** A {@link SolanaClient} over an in-process LiteSVM chain, with controls for tests and the demo. */
export interface LiteSvmClient extends SolanaClient {
  /**
   * Makes every blockhash handed out so far invalid (LiteSVM `expireBlockhash`) and moves the
   * block height past their last valid height: transactions prepared before can no longer land.
   */
  expire(): void;
  /** Fee paid by the fee payer of each landed transaction, by signature. */
  readonly fees: ReadonlyMap<string, number>;
}

/** Blocks a blockhash stays valid for, as on a cluster. */
const VALID_BLOCKS = 150n;

/** LiteSVM's `TransactionErrorFieldless` values with an explanation for the operator. */
const ERRORS: Record<number, string> = {
  2: "AccountNotFound: the fee payer has no account on this chain — fund it",
  4: "InsufficientFundsForFee: the fee payer cannot pay the fee — fund it",
  6: "AlreadyProcessed",
  7: "BlockhashNotFound: the blockhash expired",
  3: "ProgramAccountNotFound: the memo program is not on this chain — check the memo program address",
  12: "InvalidProgramForExecution: no program at the memo program address on this chain — check the memo program address (Memo v3: MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr)",
};

function describeErr(err: unknown): string {
  if (typeof err === "number") return ERRORS[err] ?? `transaction error ${err}`;
  try {
    return String(err);
  } catch {
    return "transaction error";
  }
}

function isFailed(
  result: LiteSvmTransactionMetadata | LiteSvmFailedTransaction,
): result is LiteSvmFailedTransaction {
  return typeof (result as LiteSvmFailedTransaction).err === "function";
}

/**
 * A {@link SolanaClient} over an in-process LiteSVM chain (npm `litesvm`, which must be installed
 * by the caller). Every transaction lands in a slot of its own and counts as confirmed at once
 * (LiteSVM has no commitment levels; make confirmation pending or failed with `solanaAnchor`'s
 * `checkStatus`). Memos are read back from the chain's program logs.
 * @example
 * ```ts
 * import { LiteSVM } from "litesvm";
 * const svm = new LiteSVM();
 * svm.airdrop(payer.address, lamports(1_000_000_000n));
 * const anchor = solanaAnchor({ client: litesvmClient(svm), signer: payer });
 * ```
 */
export function litesvmClient(svm: LiteSvmLike): LiteSvmClient {
  const txDecoder = getTransactionDecoder();
  const messageDecoder = getCompiledTransactionMessageDecoder();
  const base64 = getBase64Encoder();
  const fees = new Map<string, number>();
  const slots = new Map<string, number>();
  let height = 0n;
  return {
    fees,
    expire() {
      svm.expireBlockhash();
      height += VALID_BLOCKS + 1n;
    },
    async latestBlockhash() {
      return { blockhash: svm.latestBlockhash(), lastValidBlockHeight: height + VALID_BLOCKS };
    },
    async blockHeight() {
      return height;
    },
    async sendTransaction(wire) {
      const tx = txDecoder.decode(base64.encode(wire));
      const signature = getSignatureFromTransaction(tx);
      if (slots.has(signature)) return; // a re-send of a landed transaction: the chain ignores it
      const message = messageDecoder.decode(tx.messageBytes);
      const payer = message.staticAccounts[0]!;
      const before = svm.getBalance(payer) ?? 0n;
      const result = svm.sendTransaction(tx);
      if (isFailed(result)) {
        const err = result.err();
        throw new AnchorError(`transaction refused: ${describeErr(err)}`, { definite: true });
      }
      const after = svm.getBalance(payer) ?? 0n;
      const slot = svm.getClock().slot;
      fees.set(signature, Number(before - after));
      slots.set(signature, Number(slot));
      svm.warpToSlot(slot + 1n);
    },
    async signatureStatus(signature) {
      const slot = slots.get(signature);
      const result = svm.getTransaction(signature as Signature);
      if (slot === undefined || !result) return null;
      return { slot, err: isFailed(result) ? describeErr(result.err()) : null, confirmed: true };
    },
    async getTransaction(signature, memoProgram): Promise<SolanaTransactionInfo | null> {
      const slot = slots.get(signature);
      const result = svm.getTransaction(signature as Signature);
      if (slot === undefined || !result) return null;
      const logs = isFailed(result) ? result.meta().logs() : result.logs();
      return {
        slot,
        feeLamports: fees.get(signature) ?? 0,
        err: isFailed(result) ? describeErr(result.err()) : null,
        memos: memosFromLogs(logs, memoProgram),
      };
    },
  };
}

/** The memo texts in a transaction's logs: the memo program logs `Memo (len N)` and then the text. */
export function memosFromLogs(logs: readonly string[], memoProgram: string): string[] {
  const memos: string[] = [];
  let inMemo = false;
  for (let i = 0; i < logs.length; i++) {
    const line = logs[i]!;
    if (line.startsWith(`Program ${memoProgram} invoke`)) inMemo = true;
    else if (
      line.startsWith(`Program ${memoProgram} success`) ||
      line.startsWith(`Program ${memoProgram} failed`)
    )
      inMemo = false;
    else if (inMemo && /^Program log: Memo \(len \d+\)/.test(line)) {
      const inline = /^Program log: Memo \(len \d+\): "(.*)"$/.exec(line);
      if (inline) memos.push(inline[1]!);
      else if (logs[i + 1]?.startsWith("Program log: ")) memos.push(logs[++i]!.slice("Program log: ".length));
    }
  }
  return memos;
}
