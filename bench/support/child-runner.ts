import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type ChildLine, parseLine } from "./child-protocol.js";
import { RssSampler } from "./rss-sampler.js";

/** The worktree root: children run from there with `node --import tsx`. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What the bench passes to a child; everything else of the bench's environment except these is kept. */
export interface ChildEnv {
  readonly DATABASE_URL: string;
  readonly MQTT_URL: string;
  readonly MQTT_CLIENT_ID: string;
}

const CONFIG_VARS = /^(DATABASE_|MQTT_|VEEP_)/;

/** How a child ended. */
export interface ChildEnd {
  /** The `final` line, absent when the child had to be killed or crashed. */
  readonly final: ChildLine | undefined;
  /** `true` when it did not exit within the grace period after SIGTERM. */
  readonly killed: boolean;
}

/**
 * One bridge process (bridge-child.ts or naive-bridge.ts) speaking the line protocol, with its RSS
 * sampled from /proc. Keeps the last line of each type, counts relayed `source` states and the
 * tail of its stderr, for the notes under the table.
 */
export class ChildRunner {
  readonly #child: ChildProcess;
  readonly #lines = new Map<string, ChildLine>();
  readonly #waiters: Array<{ type: string; resolve: (line: ChildLine) => void }> = [];
  readonly #exited: Promise<void>;
  readonly sampler: RssSampler;
  readonly sourceStates = new Map<string, number>();
  readonly #stderrHead: string[] = [];
  readonly #stderrTail: string[] = [];
  errors = 0;

  constructor(script: string, env: ChildEnv) {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CONFIG_VARS.test(k)));
    const flags = process.env.BENCH_CHILD_NODE_OPTIONS?.split(" ").filter(Boolean) ?? [];
    const loader = script.endsWith(".mjs") ? [] : ["--import", "tsx"];
    this.#child = spawn(process.execPath, [...flags, ...loader, script], {
      cwd: ROOT,
      env: { ...inherited, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
    this.sampler = new RssSampler(this.#child.pid ?? -1);
    createInterface({ input: this.#child.stdout! }).on("line", (text) => this.#onLine(text));
    createInterface({ input: this.#child.stderr! }).on("line", (text) => {
      if (process.env.BENCH_ECHO_STDERR) process.stderr.write(`[child] ${text}\n`);
      if (text.trim() === "") return;
      if (this.#stderrHead.length < 3) this.#stderrHead.push(text.trim());
      else {
        this.#stderrTail.push(text.trim());
        if (this.#stderrTail.length > 2) this.#stderrTail.shift();
      }
    });
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last line of `type` received. */
  last(type: string): ChildLine | undefined {
    return this.#lines.get(type);
  }

  /** The first line of `type` (or the one already seen); rejects on exit, `fatal` or timeout. */
  async waitFor(type: string, timeoutMs: number): Promise<ChildLine> {
    const seen = this.#lines.get(type);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<ChildLine>((resolve) => this.#waiters.push({ type, resolve })),
        this.#exited.then(() => {
          throw new Error(`the child exited before "${type}": ${this.#why()}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no "${type}" line after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (drained stop), then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs: number): Promise<ChildEnd> {
    let killed = false;
    if (this.alive) {
      this.#child.kill("SIGTERM");
      const timer = setTimeout(() => {
        killed = true;
        this.#child.kill("SIGKILL");
      }, graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
    this.sampler.stop();
    return { final: this.#lines.get("final"), killed };
  }

  /** Kills it at once (cleanup after a failure). */
  async kill(): Promise<void> {
    if (this.alive) this.#child.kill("SIGKILL");
    await this.#exited;
    this.sampler.stop();
  }

  /** The first and last lines it wrote to stderr (where an uncaught error ends up). */
  get stderr(): string {
    const gap = this.#stderrTail.length > 0 ? [" … "] : [];
    return [this.#stderrHead.join(" | "), ...gap, this.#stderrTail.join(" | ")].join("") || "no output";
  }

  #why(): string {
    return this.#lines.get("fatal")?.message ?? this.stderr;
  }

  #onLine(text: string): void {
    const line = parseLine(text);
    if (!line) return;
    this.#lines.set(line.type, line);
    if (line.type === "source") {
      const state = String(line["state"]);
      this.sourceStates.set(state, (this.sourceStates.get(state) ?? 0) + 1);
    }
    if (line.type === "error") this.errors++;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.type === line.type) {
        this.#waiters.splice(i, 1);
        waiter.resolve(line);
      }
    }
  }
}
