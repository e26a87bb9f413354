import { describe, expect, it } from "vitest";
import { memoMismatch } from "../../src/adapter.js";
import { InvalidOptionError } from "../../src/index.js";
import { anchorMemo, parseAnchorMemo } from "../../src/verify.js";

const batchId = "5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d";
const root = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

describe("the anchor memo veep-bridge:v1:<batchId>:<messageCount>:<rootHex>", () => {
  it("writes the documented text, lower case, and reads it back", () => {
    const memo = anchorMemo({ batchId: batchId.toUpperCase(), messageCount: 1000, root: root.toUpperCase() });
    expect(memo).toBe(`veep-bridge:v1:${batchId}:1000:${root}`);
    expect(Buffer.byteLength(memo)).toBe(121);
    expect(parseAnchorMemo(memo)).toEqual({ batchId, messageCount: 1000, root });
  });

  it("refuses fields that are not a UUID, a positive count or a 64-digit hex root", () => {
    expect(() => anchorMemo({ batchId: "x", messageCount: 1, root })).toThrow(InvalidOptionError);
    expect(() => anchorMemo({ batchId, messageCount: 0, root })).toThrow(/messageCount/);
    expect(() => anchorMemo({ batchId, messageCount: 1.5, root })).toThrow(/messageCount/);
    expect(() => anchorMemo({ batchId, messageCount: 1, root: root.slice(1) })).toThrow(/root/);
  });

  it("reads only v1 anchors", () => {
    for (const text of [
      `veep-bridge:v2:${batchId}:1000:${root}`,
      `veep-bridge:v1:${batchId}:01000:${root}`,
      `veep-bridge:v1:${batchId}:1000:${root}:extra`,
      `veep-bridge:v1:${batchId}:1000:${root.toUpperCase()}`,
      `hello`,
    ])
      expect(parseAnchorMemo(text), text).toBeNull();
  });

  it("names what differs between a memo and the stored batch", () => {
    const memo = anchorMemo({ batchId, messageCount: 10, root });
    expect(memoMismatch(memo, { batchId, messageCount: 10, root })).toBeNull();
    expect(memoMismatch(memo, { batchId, messageCount: 11, root })).toMatch(
      /states 10 messages, the database 11/,
    );
    expect(memoMismatch(memo, { batchId, messageCount: 10, root: "00".repeat(32) })).toMatch(
      /states root 9f86/,
    );
    expect(
      memoMismatch(memo, { batchId: "0e4f7a1c-9b2d-4c6e-8a3f-1d5b7c9e2a4f", messageCount: 10, root }),
    ).toMatch(/names batch 5b0c/);
    expect(memoMismatch(null, { batchId, messageCount: 10, root })).toMatch(/no veep-bridge memo/);
    expect(memoMismatch("gm", { batchId, messageCount: 10, root })).toMatch(/not a veep-bridge anchor/);
  });
});
