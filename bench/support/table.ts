import type { ScenarioResult } from "./result.js";
import { wrap } from "./wrap.js";

/** The raw COPY ceiling every row is compared with. */
export interface Ceiling {
  readonly rows: number;
  readonly seconds: number;
}

const n = (value: number): string => Math.round(value).toLocaleString("en");
const mb = (kb: number | undefined): string => (kb === undefined ? "—" : n(kb / 1024));

/** Column widths; the name is left-aligned, the rest right-aligned: 104 columns in all. */
const WIDTHS = [23, 9, 7, 8, 6, 9, 8, 7, 8, 8] as const;
const HEADER = [
  "scenario",
  "messages",
  "s",
  "msg/s",
  "×COPY",
  "redeliv¹",
  "DL/bad²",
  "RSS MB",
  "p50 ms",
  "p99 ms",
];

function row(cells: readonly string[]): string {
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[0]) : cell.padStart(WIDTHS[i] ?? 0)))
    .join(" ")
    .trimEnd();
}

function resultRow(result: ScenarioResult, ceilingRate: number): string {
  const tail = [
    result.received === undefined ? "?" : n(result.received - result.messages),
    `${result.deadLetters}/${result.distinctBad}`,
    mb(result.peakRssKb),
    result.latency ? n(result.latency.p50) : "—",
    result.latency ? n(result.latency.p99) : "—",
  ];
  if (result.outcome === "failed") return `${result.name.padEnd(WIDTHS[0])} FAILED (see the notes)`;
  if (result.outcome !== "done") {
    const status = `${result.outcome.toUpperCase()} at ${n(result.storedAtOutcome)} of ${n(result.target)}`;
    const span = WIDTHS[1] + WIDTHS[2] + WIDTHS[3] + WIDTHS[4] + 3;
    return `${result.name.padEnd(WIDTHS[0])} ${status.padEnd(span)} ${row(["", ...tail]).slice(WIDTHS[0] + 1)}`;
  }
  const rate = result.messages / result.seconds;
  return row([
    result.name,
    n(result.messages),
    result.seconds.toFixed(1),
    n(rate),
    (rate / ceilingRate).toFixed(2),
    ...tail,
  ]);
}

/** The table: the ceiling first, then one row per scenario. */
export function renderTable(ceiling: Ceiling, results: readonly ScenarioResult[]): string[] {
  const ceilingRate = ceiling.rows / ceiling.seconds;
  const lines = [row(HEADER), "─".repeat(100)];
  lines.push(
    row([
      "raw COPY ceiling",
      n(ceiling.rows),
      ceiling.seconds.toFixed(1),
      n(ceilingRate),
      "1.00",
      "—",
      "—",
      "—",
      "—",
      "—",
    ]),
  );
  for (const result of results) lines.push(resultRow(result, ceilingRate));
  return lines;
}

/** What each column means, then what went wrong or is worth knowing, per scenario. */
export function renderNotes(results: readonly ScenarioResult[], stallSeconds: number): string[] {
  const lines = [
    "msg/s: messages published (valid and bad) / s. catch-up: s from the bridge's start() to the",
    "  last valid reading committed (the process reports it; `messages` is polled every 250 ms as a",
    "  check); burst and paced: from the first publish.",
    "×COPY: msg/s over the raw COPY ceiling's rows/s, measured in this run (same rows, same schema,",
    "  1,000 rows per transaction). Paced rows are capped by the offered rate: read their latency.",
    "¹ redeliveries: the process's count of deliveries (stats.received) minus the messages published in",
    "  the scenario: copies the broker sent again, when the session resumed after a reconnect, because",
    "  it had not had their PUBACK. 0 is ideal; each one is a message received and handled twice.",
    "² dead letters recorded in the database / distinct bad payloads published (0.2 %, 9 kinds; an",
    "  empty payload on one topic is one distinct payload however often it is sent).",
    "RSS MB: the highest of VmRSS/VmHWM (sampled from /proc every 250 ms) and the process's maxRSS.",
    "p50/p99: receipt→COMMIT latency of each stored reading, measured inside the process.",
    "naive: naive-bridge.ts, MQTT.js acknowledging on receipt, one autocommitted INSERT per message.",
    "bridge: veep-bridge run's bridge with the CLI defaults, in a process of its own.",
    `STALLED: no new row for ${stallSeconds} s; EXITED: the process died before storing everything.`,
  ];
  const details = results.flatMap((result) => {
    const notes = [...result.notes];
    if (result.cpuMs !== undefined && result.outcome === "done") {
      const perMessage = (result.cpuMs * 1000) / result.messages;
      notes.push(
        `process CPU ${(result.cpuMs / 1000).toFixed(2)} s, ${perMessage.toFixed(0)} µs per message`,
      );
    }
    if (result.outcome === "stalled" || result.outcome === "exited") {
      const stats = result.stats;
      notes.unshift(
        `${result.outcome} after ${result.seconds.toFixed(0)} s` +
          (stats
            ? `; its counters then: received ${n(stats.received)}, stored ${n(stats.stored)}` +
              (stats.duplicates === undefined ? "" : `, duplicates ${n(stats.duplicates)}`) +
              (stats.rejected === undefined ? "" : `, rejected ${n(stats.rejected)}`)
            : ""),
      );
    }
    if (result.outcome !== "failed" && result.deadLetters !== result.distinctBad && result.deadLetters > 0) {
      notes.push(
        `dead letters: ${n(result.deadLetters)} rows holding ${n(result.distinctDeadLetters)} distinct ` +
          `payloads, for ${n(result.distinctBad)} distinct bad payloads published`,
      );
    }
    const extra = result.storedAtEnd - result.target;
    if (result.acceptsBadInput && extra > 0) {
      notes.push(`stored ${n(extra)} bad payloads as readings and recorded none as a dead letter`);
    } else if (extra !== 0 && (result.outcome === "done" || result.storedAtEnd !== result.storedAtOutcome)) {
      notes.push(
        `${n(result.storedAtEnd)} rows in messages at the end, ${n(result.target)} valid readings published`,
      );
    }
    const indent = " ".repeat(WIDTHS[0] + 1);
    return notes.flatMap((note, i) =>
      wrap(note, 100, i === 0 ? `${result.name.padEnd(WIDTHS[0])} ` : indent, `${indent}  `),
    );
  });
  return details.length > 0 ? [...lines, "", ...details] : lines;
}

/** The long run's RSS over time, and whether it stayed flat and within 200 MB. */
export function renderTimeline(result: ScenarioResult): string[] {
  const samples = result.timeline;
  const lines = [
    `RSS over time, ${result.name} (t from its start, every 5 s)`,
    "     t s   rows stored  VmRSS MB  VmHWM MB",
  ];
  for (const s of samples) {
    lines.push(
      `${(s.t / 1000).toFixed(0).padStart(8)}  ${n(s.stored).padStart(12)}  ${mb(s.rssKb).padStart(8)}  ${mb(s.hwmKb).padStart(8)}`,
    );
  }
  const half = Math.floor(samples.length / 2);
  const highest = (part: typeof samples): number => Math.max(0, ...part.map((s) => s.rssKb));
  const peak = result.peakRssKb ?? 0;
  lines.push(
    `peak ${mb(peak)} MB (${peak <= 200 * 1024 ? "within" : "ABOVE"} 200 MB); highest VmRSS in the first ` +
      `and second half: ${mb(highest(samples.slice(0, half)))} / ${mb(highest(samples.slice(half)))} MB`,
  );
  return lines;
}
