import { generateKeyPairSigner, type KeyPairSigner, lamports } from "@solana/kit";
import { LiteSVM } from "litesvm";
import {
  type LiteSvmClient,
  litesvmClient,
  type SolanaAnchorOptions,
  solanaAnchor,
} from "../../src/solana/index.js";

/** A funded fee payer on a fresh in-process LiteSVM chain, and a Solana anchor over it. */
export async function litesvmChain(
  options: Omit<SolanaAnchorOptions, "client" | "signer"> & { fund?: bigint } = {},
) {
  const svm = new LiteSVM();
  const payer: KeyPairSigner = await generateKeyPairSigner();
  if (options.fund !== 0n) svm.airdrop(payer.address, lamports(options.fund ?? 1_000_000_000n));
  const client: LiteSvmClient = litesvmClient(svm);
  const anchor = solanaAnchor({ ...options, client, signer: payer });
  return { svm, payer, client, anchor };
}
