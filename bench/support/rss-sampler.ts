import { readFile } from "node:fs/promises";

/** One reading of /proc/<pid>/status, in KB. */
export interface RssSample {
  /** Milliseconds since sampling started. */
  readonly t: number;
  readonly rssKb: number;
  readonly hwmKb: number;
}

function field(status: string, name: string): number | undefined {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : undefined;
}

/** Samples a process's VmRSS and VmHWM every `intervalMs` (Linux /proc; nothing elsewhere). */
export class RssSampler {
  readonly #pid: number;
  readonly #started = Date.now();
  readonly #timer: NodeJS.Timeout;
  #latest: RssSample | undefined;
  #peakKb = 0;

  constructor(pid: number, intervalMs = 250) {
    this.#pid = pid;
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), intervalMs);
  }

  /** Highest VmRSS or VmHWM seen. */
  get peakKb(): number {
    return this.#peakKb;
  }

  /** The most recent sample. */
  get latest(): RssSample | undefined {
    return this.#latest;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sample(): Promise<void> {
    let status: string;
    try {
      status = await readFile(`/proc/${this.#pid}/status`, "utf8");
    } catch {
      return; // gone, or not Linux
    }
    const rssKb = field(status, "VmRSS");
    const hwmKb = field(status, "VmHWM");
    if (rssKb === undefined || hwmKb === undefined) return;
    this.#latest = { t: Date.now() - this.#started, rssKb, hwmKb };
    this.#peakKb = Math.max(this.#peakKb, rssKb, hwmKb);
  }
}
