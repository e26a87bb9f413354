import { describe, expect, it } from "vitest";
import { formatStatus, messageRate, StatusLine } from "../../src/cli/status-line.js";
import type { BridgeStats } from "../../src/index.js";

const stats: BridgeStats = {
  received: 1210,
  redelivered: 0,
  stored: 1200,
  duplicates: 2,
  rejected: 8,
  sealedBatches: 1,
  refused: 0,
  buffered: 0,
  bufferedBytes: 0,
  openBatchSize: 200,
  openBatchId: "b2",
  lastSealed: {
    batchId: "7d3c9a1f-0000-4000-8000-000000000000",
    batchHash: "ab".repeat(32),
    messageCount: 1000,
    startTimestamp: new Date(0),
    endTimestamp: new Date(1000),
    reason: "maxMessages",
  },
};

function fakeTty(columns: number) {
  const writes: string[] = [];
  const stream = { columns, write: (text: string) => writes.push(text) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

describe("status line", () => {
  it("shows msg/s, stored, rejected, open batch size and the last sealed batch", () => {
    const text = formatStatus(stats, messageRate(1000, 1210, 500));
    expect(text).toBe(
      "420 msg/s · stored 1,200 · rejected 8 · dup 2 · open batch 200 · 1 sealed, last sealed 7d3c9a1f (1,000)",
    );
    expect(formatStatus({ ...stats, lastSealed: undefined }, 0)).toMatch(/none sealed yet$/);
  });

  it("redraws in place, prints log lines above itself and fits the terminal width", () => {
    const { stream, writes } = fakeTty(40);
    const line = new StatusLine(stream);
    line.update("x".repeat(100));
    expect(writes[0]).toBe(`\r\x1b[2K${"x".repeat(38)}…`);
    line.log("sealed batch 1");
    expect(writes[1]).toBe(`\r\x1b[2Ksealed batch 1\n${"x".repeat(38)}…`);
    line.finish();
    expect(writes[2]).toBe("\n");
  });
});
