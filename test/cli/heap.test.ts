import { describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/cli-error.js";
import { DEFAULT_HEAP_GROWING_PERCENT, tuneHeap } from "../../src/cli/heap.js";

describe("tuneHeap (veep-bridge run's old-generation growth)", () => {
  it("sets the default, or VEEP_HEAP_GROWING_PERCENT, and leaves V8's own with 0", () => {
    expect(tuneHeap({}, [])).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(tuneHeap({ VEEP_HEAP_GROWING_PERCENT: " 50 " }, [])).toBe(50);
    expect(tuneHeap({ VEEP_HEAP_GROWING_PERCENT: "" }, [])).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(tuneHeap({ VEEP_HEAP_GROWING_PERCENT: "0" }, [])).toBeUndefined();
  });

  it("leaves a --heap-growing-percent given to Node alone", () => {
    expect(tuneHeap({}, ["--heap-growing-percent=40"])).toBeUndefined();
    expect(
      tuneHeap({ NODE_OPTIONS: "--max-old-space-size=512 --heap_growing_percent=40" }, []),
    ).toBeUndefined();
    expect(tuneHeap({ NODE_OPTIONS: "--max-old-space-size=512" }, [])).toBe(DEFAULT_HEAP_GROWING_PERCENT);
  });

  it.each(["-5", "1.5", "lots", "1001"])("refuses VEEP_HEAP_GROWING_PERCENT=%s with exit code 3", (value) => {
    const attempt = () => tuneHeap({ VEEP_HEAP_GROWING_PERCENT: value }, []);
    expect(attempt).toThrow(CliError);
    expect(attempt).toThrow(/VEEP_HEAP_GROWING_PERCENT must be an integer/);
    try {
      attempt();
    } catch (error) {
      expect((error as CliError).exitCode).toBe(3);
    }
  });
});
