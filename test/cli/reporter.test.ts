import { afterEach, describe, expect, it, vi } from "vitest";
import { attachReporter } from "../../src/cli/reporter.js";
import { createBridge } from "../../src/index.js";
import { memorySource, memoryStore } from "../../src/memory.js";
import { waitFor } from "../../src/testing/index.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not reach the terminal
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe("the run reporter and hostile input", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("prints a rejection's topic and detail with control characters escaped, one line each", async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore() });
    const reporter = attachReporter(bridge, "plain", 60_000);
    await bridge.start();
    const topic = "veep/f\u001b[31m/l\u0085/d\u202e\u0007/data";
    source.publish(topic, "\u001b[2J\nforged");
    await waitFor(() => bridge.stats().rejected === 1, "the rejection");
    await bridge.stop();
    reporter.stop();
    vi.restoreAllMocks();
    const lines = written.join("").split("\n");
    const rejected = lines.filter((l) => l.includes("rejected invalid_json"));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain("veep/f\\u001b[31m/l\\u0085/d\\u202e\\u0007/data");
    expect(rejected[0]).toContain("\\u001b[2J\\u000aforged");
    for (const line of lines) expect(line).not.toMatch(CONTROLS);
  });
});
