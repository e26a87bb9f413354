import { readFile } from "node:fs/promises";
import { CliError } from "./cli-error.js";
import { EXIT } from "./exit-codes.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads a file, or standard input for `-`; an unreadable file is a usage error naming it. */
export async function readTextInput(path: string): Promise<string> {
  if (path === "-") return readStdin();
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new CliError(
      `cannot read ${path}${typeof code === "string" ? ` (${code})` : ""} — give a file path, or - for standard input`,
      EXIT.usage,
    );
  }
}

/** Parses JSON text, naming `what` in the error (exit 1: the input does not check out). */
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(
      `${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
      EXIT.verificationFailed,
    );
  }
}
