import { type webcrypto as nodeWebcrypto, webcrypto } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSigner, getAddressFromPublicKey, lamports } from "@solana/kit";
import { describe, expect, it } from "vitest";
import { anchorMemo } from "../../src/anchoring/index.js";
import { AnchorError, InvalidOptionError } from "../../src/errors.js";
import { MEMO_PROGRAM_ADDRESS, readKeypairFile, solanaAnchor } from "../../src/solana/index.js";
import { litesvmChain } from "./support.js";

const BATCH = "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d";
const memo = anchorMemo({ batchId: BATCH, messageCount: 1000, root: "ab".repeat(32) });

describe("solanaAnchor on LiteSVM", () => {
  it("writes the memo with the Memo v3 program and pays the base fee of one signature (5000 lamports)", async () => {
    const { anchor, svm, payer } = await litesvmChain();
    const before = svm.getBalance(payer.address)!;
    const prepared = await anchor.prepare({ batchId: BATCH, memo });
    await anchor.send(prepared);
    const status = await anchor.status(prepared);
    expect(status).toMatchObject({ state: "confirmed", feeLamports: 5000 });
    expect(before - svm.getBalance(payer.address)!).toBe(5000n);
    const tx = await anchor.read(prepared.signature);
    expect(tx?.memos).toEqual([memo]);
    expect(MEMO_PROGRAM_ADDRESS).toBe("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
    const logs = (svm.getTransaction(prepared.signature as never) as { logs(): string[] }).logs();
    expect(logs).toContain("Program MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr invoke [1]");
  });

  it("refuses definitely, saying to fund it, when the fee payer has no SOL", async () => {
    const { anchor } = await litesvmChain({ fund: 0n });
    const prepared = await anchor.prepare({ batchId: BATCH, memo });
    const error = await anchor.send(prepared).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnchorError);
    expect((error as AnchorError).definite).toBe(true);
    expect((error as Error).message).toMatch(/fee payer .* fund it/);
  });

  it("fails, naming the memo program, when the memo program address is not on the chain", async () => {
    const nowhere = (await generateKeyPairSigner()).address;
    const { anchor } = await litesvmChain({ memoProgram: nowhere });
    const prepared = await anchor.prepare({ batchId: BATCH, memo });
    const error = await anchor.send(prepared).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnchorError);
    expect((error as Error).message).toMatch(/memo program/i);
  });

  it("models a slow or failed confirmation with checkStatus", async () => {
    const { anchor } = await litesvmChain({
      checkStatus: () => ({ state: "failed", reason: "InstructionError" }),
    });
    const prepared = await anchor.prepare({ batchId: BATCH, memo });
    await anchor.send(prepared);
    expect(await anchor.status(prepared)).toEqual({ state: "failed", reason: "InstructionError" });
  });

  it("validates its options", () => {
    expect(() => solanaAnchor({ rpcUrl: "http://127.0.0.1:8899" })).toThrow(InvalidOptionError);
    expect(() => solanaAnchor({ keypairPath: "/nonexistent.json" })).toThrow(/rpcUrl/);
    expect(() => solanaAnchor({ keypairPath: "/x.json", rpcUrl: "not a url" })).toThrow(/rpcUrl/);
  });
});

describe("readKeypairFile", () => {
  it("reads a Solana CLI keypair file, and names neither its path nor its content on errors", async () => {
    const dir = await mkdtemp(join(tmpdir(), "veep-keypair-"));
    try {
      const pair = (await webcrypto.subtle.generateKey("Ed25519", true, [
        "sign",
        "verify",
      ])) as nodeWebcrypto.CryptoKeyPair;
      const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
      const raw = new Uint8Array(await webcrypto.subtle.exportKey("raw", pair.publicKey));
      const bytes = [...pkcs8.slice(-32), ...raw];
      const file = join(dir, "payer.json");
      await writeFile(file, JSON.stringify(bytes));
      const signer = await readKeypairFile(file);
      expect(signer.address).toBe(await getAddressFromPublicKey(pair.publicKey));

      const wrong = join(dir, "wrong.json");
      const secretText = JSON.stringify([...bytes.slice(0, 32), ...bytes.slice(0, 32)]);
      await writeFile(wrong, secretText);
      const error = (await readKeypairFile(wrong).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error.message).toMatch(/public half does not match/);
      expect(error.message).not.toContain(dir);
      expect(error.message).not.toContain(String(bytes[0]) + "," + String(bytes[1]));
      await writeFile(wrong, "[1,2,3]");
      await expect(readKeypairFile(wrong)).rejects.toThrow(/64 bytes/);
      await expect(readKeypairFile(join(dir, "missing.json"))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("funds nothing by itself: a keypair on an empty chain is unfunded", () => {
    expect(lamports(0n)).toBe(0n);
  });
});
