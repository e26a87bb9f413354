import { type webcrypto as nodeWebcrypto, webcrypto } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  getBase58Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  type KeyPairSigner,
  lamports,
} from "@solana/kit";
import { LiteSVM } from "litesvm";
import { AnchorError } from "../../src/errors.js";
import { type LiteSvmClient, litesvmClient, MEMO_PROGRAM_ADDRESS } from "../../src/solana/index.js";

interface CompiledInstruction {
  programAddressIndex: number;
  accountIndices?: number[];
  data?: Uint8Array;
}

/** A JSON-RPC server on 127.0.0.1 answering the five calls `kitRpcClient` makes, over LiteSVM. */
export interface LiteSvmRpc {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The chain. */
  readonly svm: LiteSVM;
  /** The client the server answers with (controls: `expire()`). */
  readonly client: LiteSvmClient;
  /** A funded fee payer. */
  readonly payer: KeyPairSigner;
  /** The payer as a Solana CLI keypair file's content (64 bytes). */
  readonly keypairJson: string;
  close(): Promise<void>;
}

/** Starts the server with a funded fee payer. */
export async function startLiteSvmRpc(): Promise<LiteSvmRpc> {
  const svm = new LiteSVM();
  const client = litesvmClient(svm);
  const pair = (await webcrypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ])) as nodeWebcrypto.CryptoKeyPair;
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
  const raw = new Uint8Array(await webcrypto.subtle.exportKey("raw", pair.publicKey));
  const keypairJson = JSON.stringify([...pkcs8.slice(-32), ...raw]);
  const { createKeyPairSignerFromBytes } = await import("@solana/kit");
  const payer = await createKeyPairSignerFromBytes(Uint8Array.from(JSON.parse(keypairJson) as number[]));
  svm.airdrop(payer.address, lamports(10_000_000_000n));
  const wires = new Map<string, string>();
  const base58 = getBase58Decoder();
  const txDecoder = getTransactionDecoder();
  const messageDecoder = getCompiledTransactionMessageDecoder();
  const base64 = getBase64Encoder();

  const handle = async (method: string, params: unknown[]): Promise<unknown> => {
    const slot = Number(svm.getClock().slot);
    switch (method) {
      case "getLatestBlockhash": {
        const value = await client.latestBlockhash();
        return {
          context: { slot },
          value: { blockhash: value.blockhash, lastValidBlockHeight: Number(value.lastValidBlockHeight) },
        };
      }
      case "getBlockHeight":
        return Number(await client.blockHeight());
      case "sendTransaction": {
        const wire = params[0] as string;
        const tx = txDecoder.decode(base64.encode(wire));
        const signature = base58.decode(Object.values(tx.signatures)[0]!);
        await client.sendTransaction(wire);
        wires.set(signature, wire);
        return signature;
      }
      case "getSignatureStatuses": {
        const signatures = params[0] as string[];
        const value = await Promise.all(
          signatures.map(async (s) => {
            const status = await client.signatureStatus(s);
            return status
              ? {
                  slot: status.slot,
                  confirmations: null,
                  err: status.err,
                  confirmationStatus: "finalized",
                  status: { Ok: null },
                }
              : null;
          }),
        );
        return { context: { slot }, value };
      }
      case "getTransaction": {
        const signature = params[0] as string;
        const info = await client.getTransaction(signature, MEMO_PROGRAM_ADDRESS);
        const wire = wires.get(signature);
        if (!info || !wire) return null;
        const tx = txDecoder.decode(base64.encode(wire));
        const message = messageDecoder.decode(tx.messageBytes);
        return {
          slot: info.slot,
          blockTime: null,
          version: 0,
          meta: {
            fee: info.feeLamports,
            err: null,
            status: { Ok: null },
            preBalances: [],
            postBalances: [],
            logMessages: [],
          },
          transaction: {
            signatures: [signature],
            message: {
              accountKeys: message.staticAccounts,
              header: message.header,
              recentBlockhash: message.lifetimeToken,
              instructions: ((message as { instructions?: CompiledInstruction[] }).instructions ?? []).map(
                (ix) => ({
                  programIdIndex: ix.programAddressIndex,
                  accounts: ix.accountIndices ?? [],
                  data: base58.decode(ix.data ?? new Uint8Array()),
                }),
              ),
            },
          },
        };
      }
      default:
        throw Object.assign(new Error(`method ${method} not served`), { code: -32601 });
    }
  };

  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      const request = JSON.parse(body) as { id: unknown; method: string; params?: unknown[] };
      handle(request.method, request.params ?? []).then(
        (result) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result }));
        },
        (error: unknown) => {
          const preflight = error instanceof AnchorError;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: request.id,
              error: preflight
                ? {
                    code: -32002,
                    message: `Transaction simulation failed: ${error.message}`,
                    data: {
                      err: error.message,
                      logs: [],
                      accounts: null,
                      unitsConsumed: 0,
                      returnData: null,
                    },
                  }
                : {
                    code: (error as { code?: number }).code ?? -32603,
                    message: String((error as Error).message),
                  },
            }),
          );
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    svm,
    client,
    payer,
    keypairJson,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
