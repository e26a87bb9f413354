/**
 * Anchoring batch roots on Solana: `solanaAnchor`, a memo transaction per batch built and signed
 * with `@solana/kit`. The only module that imports Solana packages (`@solana/kit`,
 * `@solana-program/memo`, optional peer dependencies). See docs/anchoring.md.
 *
 * @packageDocumentation
 */
export type {
  SolanaBlockhash,
  SolanaClient,
  SolanaSignatureStatus,
  SolanaTransactionInfo,
} from "./client.js";
export { readKeypairFile } from "./keypair.js";
export { type KitRpcClientOptions, kitRpcClient } from "./kit-rpc-client.js";
export {
  type LiteSvmClient,
  type LiteSvmFailedTransaction,
  type LiteSvmLike,
  type LiteSvmTransactionMetadata,
  litesvmClient,
  memosFromLogs,
} from "./litesvm-client.js";
export {
  MEMO_PROGRAM_ADDRESS,
  type SolanaAnchor,
  type SolanaAnchorOptions,
  type SolanaReaderOptions,
  solanaAnchor,
  solanaReader,
} from "./solana-anchor.js";
