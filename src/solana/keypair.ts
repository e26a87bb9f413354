import { readFile } from "node:fs/promises";
import { createKeyPairSignerFromBytes, type KeyPairSigner } from "@solana/kit";
import { InvalidOptionError } from "../errors.js";

/**
 * Reads a Solana CLI keypair file (`solana-keygen new -o payer.json`: a JSON array of 64 byte
 * values, secret key then public key) into a signer. Errors name the file, never its content.
 * @throws `InvalidOptionError` (option `keypair`) when the file cannot be read or is not a keypair.
 * @example
 * ```ts
 * const payer = await readKeypairFile(process.env.SOLANA_KEYPAIR!);
 * console.log(payer.address); // the public address only
 * ```
 */
export async function readKeypairFile(path: string): Promise<KeyPairSigner> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new InvalidOptionError("keypair", `cannot read the fee payer's keypair file (${code})`);
  }
  let bytes: unknown;
  try {
    bytes = JSON.parse(text);
  } catch {
    throw new InvalidOptionError(
      "keypair",
      "the fee payer's keypair file is not a Solana CLI keypair file (not JSON)",
    );
  }
  if (
    !Array.isArray(bytes) ||
    bytes.length !== 64 ||
    !bytes.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)
  ) {
    throw new InvalidOptionError(
      "keypair",
      "the fee payer's keypair file is not a Solana CLI keypair file (expected a JSON array of 64 bytes)",
    );
  }
  try {
    return await createKeyPairSignerFromBytes(Uint8Array.from(bytes as number[]));
  } catch {
    throw new InvalidOptionError(
      "keypair",
      "the fee payer's keypair file holds no valid Ed25519 keypair (its public half does not match)",
    );
  }
}
