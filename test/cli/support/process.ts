import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The tsx binary of the repository (faster than `npx tsx`, same program). */
export const TSX = join(REPO_ROOT, "node_modules/.bin/tsx");

/** A child process whose output is collected. */
export interface Running {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when stdout or stderr matches `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Environment without the suite's DATABASE_URL / MQTT_URL unless given again. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(DATABASE_|MQTT_|VEEP_|SOLANA_)/.test(key)) delete env[key];
  }
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

/** Starts `command args` in `cwd` (the repository by default) with collected output. */
export function start(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  cwd: string = REPO_ROOT,
): Running {
  const child = spawn(command, [...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8");
  });
  if (input !== undefined) child.stdin.end(input);
  else child.stdin.end();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out) && !pattern.test(err)) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(
            `no output matching ${pattern} (exit ${child.exitCode})\nstdout:\n${out}\nstderr:\n${err}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Result of a finished CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `veep-bridge ARGS` from the sources (`tsx src/cli/main.ts`) to the end. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  input?: string,
): Promise<CliResult> {
  const running = start(TSX, ["src/cli/main.ts", ...args], env, input);
  const { code } = await running.exited;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}
