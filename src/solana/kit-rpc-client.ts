import {
  type Base64EncodedWireTransaction,
  type Commitment,
  createSolanaRpc,
  getBase58Encoder,
  isSolanaError,
  type Signature,
  SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
} from "@solana/kit";
import { AnchorError } from "../errors.js";
import type { SolanaClient, SolanaSignatureStatus, SolanaTransactionInfo } from "./client.js";

/** Options of {@link kitRpcClient}. */
export interface KitRpcClientOptions {
  /** JSON-RPC URL of the cluster, e.g. `https://api.devnet.solana.com`. */
  readonly rpcUrl: string;
  /**
   * Commitment at which a transaction counts as confirmed (and blockhashes are fetched).
   * @defaultValue `"confirmed"`
   */
  readonly commitment?: Commitment;
}

function describeRpcFailure(rpcUrl: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `Solana RPC ${new URL(rpcUrl).host}: ${message}${cause}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * A {@link SolanaClient} over a cluster's JSON-RPC API, with `@solana/kit`'s `createSolanaRpc`.
 * @example
 * ```ts
 * const client = kitRpcClient({ rpcUrl: "https://api.devnet.solana.com", commitment: "confirmed" });
 * ```
 */
export function kitRpcClient(options: KitRpcClientOptions): SolanaClient {
  const rpc = createSolanaRpc(options.rpcUrl);
  const commitment = options.commitment ?? "confirmed";
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw new AnchorError(`${what} failed: ${describeRpcFailure(options.rpcUrl, error)}`, { cause: error });
    }
  };
  return {
    async latestBlockhash() {
      const { value } = await call("getLatestBlockhash", () => rpc.getLatestBlockhash({ commitment }).send());
      return { blockhash: value.blockhash, lastValidBlockHeight: value.lastValidBlockHeight };
    },
    async blockHeight() {
      return call("getBlockHeight", () => rpc.getBlockHeight({ commitment }).send());
    },
    async sendTransaction(wire) {
      try {
        await rpc
          .sendTransaction(wire as Base64EncodedWireTransaction, {
            encoding: "base64",
            preflightCommitment: commitment,
          })
          .send();
      } catch (error) {
        const definite = isSolanaError(
          error,
          SOLANA_ERROR__JSON_RPC__SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
        );
        const hint = /no record of a prior credit|insufficient funds/i.test(
          `${(error as Error).message} ${String((error as Error).cause ?? "")}`,
        )
          ? " — the fee payer has no SOL on this cluster: fund it (devnet: `solana airdrop 1 <address>`)"
          : "";
        throw new AnchorError(`sendTransaction failed: ${describeRpcFailure(options.rpcUrl, error)}${hint}`, {
          cause: error,
          definite,
        });
      }
    },
    async signatureStatus(signature): Promise<SolanaSignatureStatus | null> {
      const { value } = await call("getSignatureStatuses", () =>
        rpc.getSignatureStatuses([signature as Signature], { searchTransactionHistory: true }).send(),
      );
      const status = value[0];
      if (!status) return null;
      const reached =
        status.confirmationStatus === "finalized" ||
        (commitment !== "finalized" && status.confirmationStatus === "confirmed") ||
        commitment === "processed";
      return {
        slot: Number(status.slot),
        err:
          status.err === null
            ? null
            : JSON.stringify(status.err, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
        confirmed: reached,
      };
    },
    async getTransaction(signature, memoProgram): Promise<SolanaTransactionInfo | null> {
      const tx = await call("getTransaction", () =>
        rpc
          .getTransaction(signature as Signature, {
            commitment: commitment === "processed" ? "confirmed" : commitment,
            encoding: "json",
            maxSupportedTransactionVersion: 0,
          })
          .send(),
      );
      if (!tx) return null;
      const keys = tx.transaction.message.accountKeys;
      const base58 = getBase58Encoder();
      const memos = tx.transaction.message.instructions
        .filter((ix) => keys[Number(ix.programIdIndex)] === memoProgram)
        .map((ix) => utf8.decode(Uint8Array.from(base58.encode(ix.data))));
      return {
        slot: Number(tx.slot),
        feeLamports: Number(tx.meta?.fee ?? 0),
        err: tx.meta?.err ? JSON.stringify(tx.meta.err) : null,
        memos,
      };
    },
  };
}
