// Scenario 13's figures: RPO in commits and seconds, RTO as the application saw it with its
// phases, judged against the configuration's objectives; the three WAL modes side by side; the
// runbook the drill actually executed. Pure: every time comes in as a measured number.

import type { WalMode } from "../drill/drill-config.ts";
import { seconds } from "../support/measure.ts";
import type { DataLoss } from "./data-loss.ts";

/** Client monotonic times (ms) at the edges of the application's outage, in order. */
export interface OutageMarks {
  lastAckBeforeLoss: number;
  firstFailure: number;
  restoreStarted: number;
  restoreFinished: number;
  promoted: number;
  switchStarted: number;
  /** PgBouncer answered the switch, or the first commit went through, whichever came first. */
  switchFinished: number;
  firstAckOnNewPrimary: number;
}

/** The phases of the application's RTO: consecutive, so they add up to it exactly. */
export const RTO_PHASES = [
  ["detectionMs", "detection (last acknowledged commit to the first failed one)", "lastAckBeforeLoss", "firstFailure"],
  ["beforeRestoreMs", "from the first failure to the restore's start", "firstFailure", "restoreStarted"],
  ["restoreMs", "barman restore of the newest state", "restoreStarted", "restoreFinished"],
  ["startUntilPromotedMs", "instance start until promoted", "restoreFinished", "promoted"],
  ["lossMeasuredMs", "data loss measured, switchover decided", "promoted", "switchStarted"],
  ["switchMs", "switch of the application's address (PgBouncer RELOAD, ENABLE)", "switchStarted", "switchFinished"],
  ["firstCommitMs", "first acknowledged commit on the new primary", "switchFinished", "firstAckOnNewPrimary"],
] as const;

export type RtoPhaseName = (typeof RTO_PHASES)[number][0];

export function applicationRto(marks: OutageMarks): { applicationMs: number; phasesMs: Record<RtoPhaseName, number> } {
  const phasesMs = {} as Record<RtoPhaseName, number>;
  for (const [name, label, from, to] of RTO_PHASES) {
    const ms = marks[to] - marks[from];
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`RTO phase '${label}' has no valid duration (${from} ${marks[from]} ms, ${to} ${marks[to]} ms)`);
    phasesMs[name] = ms;
  }
  return { applicationMs: marks.firstAckOnNewPrimary - marks.lastAckBeforeLoss, phasesMs };
}

export interface FullDrObjectives {
  rpoCommits: number;
  rpoSeconds: number;
  rtoApplicationS: number;
}

/** reports/scenario-13-<walMode>.json; documented in README.md ("Scenario 13 results"). */
export interface FullDrMetrics {
  schemaVersion: 1;
  runId: string;
  drill: string;
  walMode: WalMode;
  platform: string;
  versions: { postgres: string; barman: string };
  workload: { ratePerSecond: number; attemptsBeforeRecovery: number; acknowledgedBeforeLoss: number };
  rpo: {
    commitsLost: number;
    firstLostId: number | null;
    lastLostId: number | null;
    /** Server time from the first to the last lost commit. */
    lostSpanSeconds: number;
    /** Seconds of acknowledged work lost (newest acknowledged commit minus newest recovered one). */
    secondsLost: number;
    /** Commits the new primary holds that the application never saw acknowledged: not lost, reported. */
    unacknowledgedButRecovered: number;
  };
  rto: { applicationMs: number; phasesMs: Record<RtoPhaseName, number> };
  timelines: { lost: number; new: number };
  objectives: FullDrObjectives;
  violations: string[];
  verdict: "pass" | "fail";
}

export function judgeFullDr(input: {
  runId: string;
  drill: string;
  walMode: WalMode;
  platform: string;
  versions: { postgres: string; barman: string };
  ratePerSecond: number;
  attemptsBeforeRecovery: number;
  loss: DataLoss;
  marks: OutageMarks;
  timelines: { lost: number; new: number };
  objectives: FullDrObjectives;
}): FullDrMetrics {
  const { loss, objectives } = input;
  const rto = applicationRto(input.marks);
  const violations: string[] = [];
  if (loss.lost.count > objectives.rpoCommits) {
    violations.push(
      `RPO: ${loss.lost.count} acknowledged commits lost (ids ${loss.lost.firstId}..${loss.lost.lastId}), over the objective of ${objectives.rpoCommits} (fullDr.objectives.rpoCommits)`,
    );
  }
  if (loss.rpoSeconds - objectives.rpoSeconds > 1e-6) {
    violations.push(
      `RPO: ${loss.rpoSeconds.toFixed(3)} s of acknowledged work lost, over the objective of ${objectives.rpoSeconds} s (fullDr.objectives.rpoSeconds)`,
    );
  }
  if (rto.applicationMs - objectives.rtoApplicationS * 1000 > 1e-6) {
    const [largest] = Object.entries(rto.phasesMs).sort((a, b) => b[1] - a[1]);
    violations.push(
      `RTO as the application saw it: ${seconds(rto.applicationMs)}, over the objective of ${objectives.rtoApplicationS} s (fullDr.objectives.rtoApplicationS); the largest phase is ${largest?.[0]} (${seconds(largest?.[1] ?? 0)})`,
    );
  }
  return {
    schemaVersion: 1,
    runId: input.runId,
    drill: input.drill,
    walMode: input.walMode,
    platform: input.platform,
    versions: input.versions,
    workload: { ratePerSecond: input.ratePerSecond, attemptsBeforeRecovery: input.attemptsBeforeRecovery, acknowledgedBeforeLoss: loss.acknowledged },
    rpo: {
      commitsLost: loss.lost.count,
      firstLostId: loss.lost.firstId ?? null,
      lastLostId: loss.lost.lastId ?? null,
      lostSpanSeconds: loss.lost.spanSeconds,
      secondsLost: loss.rpoSeconds,
      unacknowledgedButRecovered: loss.unacknowledgedButRecovered.count,
    },
    rto,
    timelines: input.timelines,
    objectives,
    violations,
    verdict: violations.length === 0 ? "pass" : "fail",
  };
}

export function renderFullDrText(m: FullDrMetrics): string {
  const pad = (label: string): string => label.padEnd(62, " ");
  return [
    "=================================================",
    "      FULL DISASTER RECOVERY METRICS (Scenario 13)",
    "=================================================",
    `Drill: ${m.drill}`,
    `WAL mode: ${m.walMode}; PostgreSQL ${m.versions.postgres}, ${m.versions.barman} (${m.platform})`,
    `Workload: ${m.workload.ratePerSecond} commits/s, ${m.workload.acknowledgedBeforeLoss} acknowledged before the loss`,
    `Timelines: lost primary ${m.timelines.lost}, new primary ${m.timelines.new}`,
    "",
    "RPO (acknowledged commits the new primary lacks):",
    `  ${pad("commits lost:")}${m.rpo.commitsLost}${m.rpo.commitsLost ? ` (ids ${m.rpo.firstLostId}..${m.rpo.lastLostId}, over ${m.rpo.lostSpanSeconds.toFixed(3)} s)` : ""}`,
    `  ${pad("seconds of acknowledged work lost:")}${m.rpo.secondsLost.toFixed(3)} s`,
    `  ${pad("recovered but never acknowledged (in flight):")}${m.rpo.unacknowledgedButRecovered}`,
    "",
    "RTO as the application saw it (client monotonic clock):",
    ...RTO_PHASES.map(([name, label], i) => `  ${pad(`${i + 1}. ${label}:`)}${seconds(m.rto.phasesMs[name])}`),
    `  ${pad("Total, last commit before the loss to first on the new primary:")}${seconds(m.rto.applicationMs)}`,
    "",
    `Objectives: ${m.objectives.rpoCommits} commits, ${m.objectives.rpoSeconds} s of work, RTO ${m.objectives.rtoApplicationS} s`,
    `Verdict: ${m.verdict.toUpperCase()}${m.violations.length ? `\n  - ${m.violations.join("\n  - ")}` : ""}`,
    "=================================================",
  ].join("\n");
}

/** The WAL modes side by side, as a Markdown table (README and the report). */
export function renderModeComparison(results: FullDrMetrics[]): string {
  const header =
    "| WAL mode | commits lost | work lost | in flight, recovered | RTO (application) | restore | start until promoted | switch until first commit | verdict |";
  const rows = results.map(
    (m) =>
      `| ${m.walMode} | ${m.rpo.commitsLost} of ${m.workload.acknowledgedBeforeLoss} | ${m.rpo.secondsLost.toFixed(3)} s | ${m.rpo.unacknowledgedButRecovered} | ${seconds(m.rto.applicationMs)} | ${seconds(m.rto.phasesMs.restoreMs)} | ${seconds(m.rto.phasesMs.startUntilPromotedMs)} | ${seconds(m.rto.phasesMs.switchMs + m.rto.phasesMs.firstCommitMs)} | ${m.verdict} |`,
  );
  return [header, "|---|---|---|---|---|---|---|---|---|", ...rows].join("\n");
}

const escapeXml = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/** Two bar charts side by side: commits lost and application RTO per WAL mode. */
export function modeComparisonSvg(results: FullDrMetrics[]): string {
  const width = 640;
  const height = 260;
  const panel = (x: number, title: string, values: Array<[string, number]>, unit: string): string => {
    const max = Math.max(1e-9, ...values.map(([, v]) => v));
    const barWidth = 60;
    const bars = values.map(([label, v], i) => {
      const h = (v / max) * 160;
      const bx = x + 20 + i * (barWidth + 30);
      return [
        `<rect x="${bx}" y="${200 - h}" width="${barWidth}" height="${h}" fill="#4a78b5"/>`,
        `<text x="${bx + barWidth / 2}" y="${195 - h}" font-size="11" text-anchor="middle">${escapeXml(`${Number(v.toFixed(2))}${unit}`)}</text>`,
        `<text x="${bx + barWidth / 2}" y="218" font-size="11" text-anchor="middle">${escapeXml(label)}</text>`,
      ].join("");
    });
    return `<text x="${x + 20}" y="22" font-size="13" font-weight="bold">${escapeXml(title)}</text><line x1="${x + 10}" y1="200" x2="${x + 300}" y2="200" stroke="#333"/>${bars.join("")}`;
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    panel(
      0,
      "Acknowledged commits lost",
      results.map((m) => [m.walMode, m.rpo.commitsLost]),
      "",
    ),
    panel(
      320,
      "RTO as the application saw it",
      results.map((m) => [m.walMode, m.rto.applicationMs / 1000]),
      " s",
    ),
    "</svg>",
  ].join("\n");
}

/** One action of the runbook as the drill executed it. */
export interface RunbookEntry {
  action: string;
  /** What was done, in the words and commands an operator would use. */
  detail: string;
  durationMs: number;
}

/** The switchover runbook, true: every action the drill took, in order, with its time. */
export function executedRunbook(input: { drill: string; walMode: WalMode; entries: RunbookEntry[]; metrics?: FullDrMetrics }): string {
  const lines = [
    `RUNBOOK EXECUTED: ${input.drill} (WAL mode ${input.walMode})`,
    "Generated from what the drill did; times measured by the drill.",
    "",
    ...input.entries.flatMap((e, i) => [
      `${String(i + 1).padStart(2, " ")}. ${e.action} [${seconds(e.durationMs)}]`,
      ...e.detail.split("\n").map((d) => `      ${d}`),
    ]),
  ];
  if (input.metrics) {
    lines.push(
      "",
      `Outcome: ${input.metrics.rpo.commitsLost} acknowledged commits lost (${input.metrics.rpo.secondsLost.toFixed(3)} s of work); the application was without a database for ${seconds(input.metrics.rto.applicationMs)}.`,
    );
  }
  return lines.join("\n");
}
