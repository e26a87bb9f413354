import {
  type Address,
  address,
  appendTransactionMessageInstructions,
  type Blockhash,
  type Commitment,
  createTransactionMessage,
  getBase64EncodedWireTransaction,
  getSignatureFromTransaction,
  type Instruction,
  type KeyPairSigner,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/kit";
import { getAddMemoInstruction, LEGACY_MEMO_PROGRAM_ADDRESS_V3 } from "@solana-program/memo";
import type {
  Anchor,
  AnchoredTransaction,
  AnchorRequest,
  AnchorStatus,
  PreparedAnchor,
} from "../anchoring/types.js";
import { InvalidOptionError } from "../errors.js";
import type { SolanaClient } from "./client.js";
import { readKeypairFile } from "./keypair.js";
import { kitRpcClient } from "./kit-rpc-client.js";

/**
 * The memo program the anchor writes to by default: Memo v3, `MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr`
 * (`LEGACY_MEMO_PROGRAM_ADDRESS_V3` of `@solana-program/memo`), deployed on every cluster and loaded
 * by LiteSVM.
 */
export const MEMO_PROGRAM_ADDRESS: Address = LEGACY_MEMO_PROGRAM_ADDRESS_V3;

const COMPUTE_BUDGET_PROGRAM = address("ComputeBudget111111111111111111111111111111");
/** Compute units requested: the memo program uses about 320 for a 121-byte memo. */
const COMPUTE_UNITS = 20_000;

/**
 * `SetComputeUnitLimit` of the compute budget program (no fee: no unit price is set). It keeps the
 * request small and makes every prepared transaction distinct: two attempts for one batch within
 * one blockhash would otherwise be the same transaction, with the same signature.
 */
function computeUnitLimit(units: number): Instruction {
  const data = new Uint8Array(5);
  data[0] = 2;
  new DataView(data.buffer).setUint32(1, units, true);
  return { programAddress: COMPUTE_BUDGET_PROGRAM, data };
}

/** Options of {@link solanaAnchor}. */
export interface SolanaAnchorOptions {
  /** The fee payer and signer. Give this or `keypairPath`. */
  readonly signer?: KeyPairSigner;
  /** A Solana CLI JSON keypair file of the fee payer (read once, never logged). */
  readonly keypairPath?: string;
  /** JSON-RPC URL of the cluster (used when no `client` is given). */
  readonly rpcUrl?: string;
  /**
   * Commitment at which an anchor counts as confirmed.
   * @defaultValue `"confirmed"`
   */
  readonly commitment?: Commitment;
  /** The chain to talk to: `kitRpcClient` (the default, from `rpcUrl`), `litesvmClient`, or your own. */
  readonly client?: SolanaClient;
  /**
   * The memo program address, passed explicitly to the memo instruction.
   * @defaultValue {@link MEMO_PROGRAM_ADDRESS} (Memo v3)
   */
  readonly memoProgram?: string;
  /**
   * The confirmation check, injectable: gets the attempt and the status the chain gave, returns
   * the status to use (tests model pending, failed or slow confirmations with it).
   * @defaultValue the chain's status
   */
  readonly checkStatus?: (
    attempt: { readonly signature: string; readonly validUntil: number | null },
    actual: AnchorStatus,
  ) => AnchorStatus | Promise<AnchorStatus>;
}

/** Options of {@link solanaReader}. */
export type SolanaReaderOptions = Pick<
  SolanaAnchorOptions,
  "rpcUrl" | "commitment" | "client" | "memoProgram"
>;

function clientOf(options: SolanaReaderOptions): SolanaClient {
  if (!options.client && !options.rpcUrl)
    throw new InvalidOptionError("rpcUrl", "give the cluster's JSON-RPC URL (or a `client`)");
  if (options.client) return options.client;
  try {
    new URL(options.rpcUrl!);
  } catch {
    throw new InvalidOptionError("rpcUrl", "must be a URL, e.g. https://api.devnet.solana.com");
  }
  return kitRpcClient({
    rpcUrl: options.rpcUrl!,
    ...(options.commitment ? { commitment: options.commitment } : {}),
  });
}

async function readTransaction(
  client: SolanaClient,
  memoProgram: string,
  signature: string,
): Promise<AnchoredTransaction | null> {
  const tx = await client.getTransaction(signature, memoProgram);
  if (!tx || tx.err !== null) return null;
  return { signature, slot: tx.slot, memos: tx.memos, feeLamports: tx.feeLamports };
}

/**
 * Reads anchors back from the chain without a fee payer (for `verify --anchors` and auditors).
 * @throws `InvalidOptionError` when neither `client` nor a valid `rpcUrl` is given.
 * @example
 * ```ts
 * const reader = solanaReader({ rpcUrl: "https://api.devnet.solana.com" });
 * for await (const r of verifyAnchors(store, reader)) if (!r.ok) console.error(r.batchId, r.failure);
 * ```
 */
export function solanaReader(options: SolanaReaderOptions): Pick<Anchor, "read"> {
  const client = clientOf(options);
  const memoProgram = address(options.memoProgram ?? MEMO_PROGRAM_ADDRESS);
  return { read: (signature) => readTransaction(client, memoProgram, signature) };
}

/** A Solana {@link Anchor}, with the fee payer's public address. */
export interface SolanaAnchor extends Anchor {
  /** The fee payer's address (public). */
  address(): Promise<string>;
}

/**
 * Creates the Solana {@link Anchor}: one memo transaction per batch, built and signed with
 * `@solana/kit`, memo `veep-bridge:v1:<batchId>:<messageCount>:<rootHex>` to the memo program.
 * @throws `InvalidOptionError` when neither `signer` nor `keypairPath`, or neither `client` nor
 * `rpcUrl`, is given.
 * @example
 * ```ts
 * import { solanaAnchor } from "veep-bridge/solana";
 * const anchor = solanaAnchor({
 *   keypairPath: process.env.SOLANA_KEYPAIR,
 *   rpcUrl: "https://api.devnet.solana.com",
 *   commitment: "confirmed",
 * });
 * ```
 */
export function solanaAnchor(options: SolanaAnchorOptions): SolanaAnchor {
  if (!options.signer && !options.keypairPath)
    throw new InvalidOptionError(
      "keypairPath",
      "give the fee payer: `signer` or `keypairPath` (a Solana CLI keypair file)",
    );
  const client = clientOf(options);
  const memoProgram = address(options.memoProgram ?? MEMO_PROGRAM_ADDRESS);
  let nextUnits = Math.floor(Math.random() * 1000);
  let signer: Promise<KeyPairSigner> | undefined = options.signer
    ? Promise.resolve(options.signer)
    : undefined;
  const payer = (): Promise<KeyPairSigner> => {
    signer ??= readKeypairFile(options.keypairPath!).catch((error: unknown) => {
      signer = undefined;
      throw error;
    });
    return signer;
  };

  const chainStatus = async (attempt: {
    readonly signature: string;
    readonly validUntil: number | null;
  }): Promise<AnchorStatus> => {
    const status = await client.signatureStatus(attempt.signature);
    if (status) {
      if (status.err !== null) return { state: "failed", reason: status.err };
      if (!status.confirmed) return { state: "pending" };
      const tx = await client.getTransaction(attempt.signature, memoProgram);
      if (!tx) return { state: "pending" };
      return { state: "confirmed", slot: tx.slot, feeLamports: tx.feeLamports };
    }
    if (attempt.validUntil !== null && (await client.blockHeight()) > BigInt(attempt.validUntil))
      return { state: "expired" };
    return { state: "pending" };
  };

  return {
    name: "solana",
    async address() {
      return (await payer()).address;
    },
    async prepare(request: AnchorRequest): Promise<PreparedAnchor> {
      const feePayer = await payer();
      const { blockhash, lastValidBlockHeight } = await client.latestBlockhash();
      const message = pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(feePayer, m),
        (m) =>
          setTransactionMessageLifetimeUsingBlockhash(
            { blockhash: blockhash as Blockhash, lastValidBlockHeight },
            m,
          ),
        (m) =>
          appendTransactionMessageInstructions(
            [
              computeUnitLimit(COMPUTE_UNITS + (nextUnits++ % 1000)),
              getAddMemoInstruction({ memo: request.memo }, { programAddress: memoProgram }),
            ],
            m,
          ),
      );
      const signed = await signTransactionMessageWithSigners(message);
      return {
        signature: getSignatureFromTransaction(signed),
        memo: request.memo,
        validUntil: Number(lastValidBlockHeight),
        transaction: getBase64EncodedWireTransaction(signed),
      };
    },
    async send(prepared: PreparedAnchor): Promise<void> {
      await client.sendTransaction(prepared.transaction);
    },
    async status(attempt) {
      const actual = await chainStatus(attempt);
      return options.checkStatus ? options.checkStatus(attempt, actual) : actual;
    },
    read: (signature: string) => readTransaction(client, memoProgram, signature),
  };
}
