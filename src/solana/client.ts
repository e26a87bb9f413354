/** What a {@link SolanaClient} reports of a transaction. */
export interface SolanaTransactionInfo {
  /** The slot it landed in. */
  readonly slot: number;
  /** Fee paid, in lamports. */
  readonly feeLamports: number;
  /** The chain's error, or `null` when it succeeded. */
  readonly err: string | null;
  /** The texts of its memo instructions (for the memo program address given). */
  readonly memos: readonly string[];
}

/** A recent blockhash with the last block height at which a transaction using it can land. */
export interface SolanaBlockhash {
  /** The blockhash (base58). */
  readonly blockhash: string;
  /** The last block height at which it is valid. */
  readonly lastValidBlockHeight: bigint;
}

/** A signature's status as a {@link SolanaClient} reports it. */
export interface SolanaSignatureStatus {
  /** The slot it landed in. */
  readonly slot: number;
  /** The chain's error, or `null`. */
  readonly err: string | null;
  /** `true` once it reached the client's commitment. */
  readonly confirmed: boolean;
}

/**
 * The few chain calls `solanaAnchor` makes: the seam between the transaction building and signing
 * (always `@solana/kit`) and the chain it is sent to. `kitRpcClient` talks JSON-RPC to a cluster;
 * `litesvmClient` to an in-process LiteSVM chain (tests and the demo).
 */
export interface SolanaClient {
  /** A recent blockhash and the last block height at which a transaction using it can land. */
  latestBlockhash(): Promise<SolanaBlockhash>;
  /** The current block height. */
  blockHeight(): Promise<bigint>;
  /**
   * Submits a signed transaction (base64 wire format).
   * @throws `AnchorError`: `definite` when it surely was not forwarded (refused by preflight).
   */
  sendTransaction(wireBase64: string): Promise<void>;
  /** The status of a signature, or `null` when the chain does not know it. */
  signatureStatus(signature: string): Promise<SolanaSignatureStatus | null>;
  /** The landed transaction of a signature, or `null`. */
  getTransaction(signature: string, memoProgram: string): Promise<SolanaTransactionInfo | null>;
}
