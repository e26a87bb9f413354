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

/**
 * Why `JSON.parse` failed, without quoting the text: V8 messages such as `Unexpected token 'x', "…" is
 * not valid JSON` repeat part of it, and a config file may hold passwords. Positions become line:column.
 */
function jsonSyntaxProblem(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /at position (\d+)/.exec(message);
  if (position) {
    const before = text.slice(0, Number(position[1]));
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    return `${message.replace(/ (in JSON )?at position \d+.*$/s, "")} at line ${line}, column ${column}`;
  }
  if (/is not valid JSON/.test(message)) return "unexpected text (not repeated here: it may hold a secret)";
  return message.replace(/["'].*$/s, "").trim() || "syntax error";
}

/** Parses JSON text, naming `what` in the error (exit 1: the input does not check out). */
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(
      `${what} is not valid JSON: ${jsonSyntaxProblem(error, text)}`,
      EXIT.verificationFailed,
    );
  }
}
