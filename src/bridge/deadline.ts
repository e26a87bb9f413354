/** An optional time limit shared by several awaited steps. */
export class Deadline {
  readonly #at: number | undefined;

  /** @param timeoutMs - milliseconds from now, or `undefined` for no limit */
  constructor(timeoutMs: number | undefined) {
    this.#at = timeoutMs === undefined ? undefined : Date.now() + Math.max(0, timeoutMs);
  }

  /** Waits for `work` until the deadline; resolves `true` if it settled in time (rejections pass through). */
  async race(work: Promise<unknown>): Promise<boolean> {
    if (this.#at === undefined) {
      await work;
      return true;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, this.#at! - Date.now()));
      timer.unref?.();
    });
    try {
      return await Promise.race([work.then(() => true as const), expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
