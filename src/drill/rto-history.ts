// RTO across runs: each drill appends one line to reports/history/rto-history.jsonl (kept between
// nightly runs by the CI cache), the drill compares itself with the median of recent runs, and an
// SVG chart of the phases per run goes into the report.
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

export interface RtoHistoryEntry {
  runId: string;
  /** ISO time the run finished (wall clock, for the chart's labels only). */
  at: string;
  barmanRecoverMs: number;
  instanceStartUntilPromotedMs: number;
  verificationMs: number;
  recoveryMs: number;
  totalFromDisasterMs: number;
  /** The pair the run drilled, e.g. "pg17-barman3.13"; runs before platforms existed were pg15-barman3.4. */
  platform?: string;
  /** Exact server versions of the run (forky moves: the same pair can change under you). */
  versions?: { postgres: string; barman: string };
}

/** Runs of one pair only: a run on PostgreSQL 18 is not compared with one on 15. */
export function historyOfPlatform(entries: RtoHistoryEntry[], platform: string): RtoHistoryEntry[] {
  return entries.filter((e) => (e.platform ?? "pg15-barman3.4") === platform);
}

const entrySchema = z.object({
  runId: z.string(),
  at: z.string(),
  barmanRecoverMs: z.number().nonnegative(),
  instanceStartUntilPromotedMs: z.number().nonnegative(),
  verificationMs: z.number().nonnegative(),
  recoveryMs: z.number().positive(),
  totalFromDisasterMs: z.number().nonnegative(),
  platform: z.string().optional(),
  versions: z.object({ postgres: z.string(), barman: z.string() }).optional(),
});

export const RTO_HISTORY_PATH = "reports/history/rto-history.jsonl";

export async function readRtoHistory(path = RTO_HISTORY_PATH): Promise<RtoHistoryEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        const parsed = entrySchema.safeParse(JSON.parse(line));
        return parsed.success ? [parsed.data] : [];
      } catch {
        return []; // a torn last line from a killed run is not worth failing a drill for
      }
    });
}

export async function appendRtoHistory(entry: RtoHistoryEntry, path = RTO_HISTORY_PATH): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // A killed run may have left a torn last line: start on a fresh one so this entry stays readable.
  const existing = await readFile(path, "utf8").catch(() => "");
  const separator = existing.length > 0 && !existing.endsWith("\n") ? "\n" : "";
  await appendFile(path, `${separator}${JSON.stringify(entry)}\n`);
}

export interface TrendVerdict {
  /** Runs compared with (the most recent ones before this run). */
  baselineRuns: number;
  medianRecoveryMs: number | undefined;
  /** (this run / median) - 1; undefined without history. */
  change: number | undefined;
  regression: boolean;
  message: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Is this run's recovery time more than `allowedShare` above the median of the last `window` runs? */
export function rtoTrend(
  current: Pick<RtoHistoryEntry, "recoveryMs">,
  previous: RtoHistoryEntry[],
  options: { window: number; allowedShare: number },
): TrendVerdict {
  const recent = previous.slice(-options.window);
  if (recent.length === 0) {
    return { baselineRuns: 0, medianRecoveryMs: undefined, change: undefined, regression: false, message: "no earlier runs to compare with" };
  }
  const medianRecoveryMs = median(recent.map((e) => e.recoveryMs));
  const change = current.recoveryMs / medianRecoveryMs - 1;
  // A tolerance, so that exactly the allowed share (1100 vs 1000 at 0.1) is not a regression by rounding.
  const regression = change - options.allowedShare > 1e-9;
  const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)}%`;
  return {
    baselineRuns: recent.length,
    medianRecoveryMs,
    change,
    regression,
    message: `recovery ${(current.recoveryMs / 1000).toFixed(2)} s vs median ${(medianRecoveryMs / 1000).toFixed(2)} s of the last ${recent.length} run(s): ${pct(change)}${regression ? `, a regression (allowed ${pct(options.allowedShare)})` : ""}`,
  };
}

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Stacked bars of the recovery phases per run, newest on the right. */
export function renderRtoChart(entries: RtoHistoryEntry[], options: { maxRuns?: number } = {}): string {
  const maxRuns = options.maxRuns ?? 20;
  const runs = entries.slice(Math.max(0, entries.length - maxRuns));
  const width = 720;
  const height = 320;
  const margin = { top: 40, right: 20, bottom: 70, left: 60 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const phases = [
    ["barmanRecoverMs", "barman recover", "#4e79a7"],
    ["instanceStartUntilPromotedMs", "start until promoted", "#f28e2b"],
    ["verificationMs", "verification", "#59a14f"],
  ] as const;
  const maxMs = Math.max(1, ...runs.map((r) => r.barmanRecoverMs + r.instanceStartUntilPromotedMs + r.verificationMs));
  const slot = runs.length ? plotW / runs.length : plotW;
  const barW = Math.max(4, Math.min(40, slot * 0.6));
  const y = (ms: number): number => (ms / maxMs) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>RTO phases per run</title>`,
    `<text x="${margin.left}" y="20" font-size="14" font-weight="bold">Recovery time per run (seconds)</text>`,
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const ms = (maxMs * i) / 4;
    const yy = margin.top + plotH - y(ms);
    parts.push(`<text x="${margin.left - 6}" y="${yy + 4}" text-anchor="end">${(ms / 1000).toFixed(2)}</text>`);
  }
  runs.forEach((run, i) => {
    const x = margin.left + i * slot + (slot - barW) / 2;
    let base = margin.top + plotH;
    for (const [field, name] of phases) {
      const h = y(run[field]);
      base -= h;
      const color = phases.find((p) => p[0] === field)![2];
      parts.push(
        `<rect class="phase" x="${x.toFixed(1)}" y="${base.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(`${run.runId} ${name}: ${(run[field] / 1000).toFixed(3)} s`)}</title></rect>`,
      );
    }
    const label = escapeXml(run.at.slice(5, 16).replace("T", " "));
    parts.push(
      `<text x="${(x + barW / 2).toFixed(1)}" y="${margin.top + plotH + 12}" text-anchor="end" transform="rotate(-45 ${(x + barW / 2).toFixed(1)} ${margin.top + plotH + 12})">${label}</text>`,
    );
  });
  phases.forEach(([, name, color], i) => {
    const x = margin.left + 10 + i * 170;
    parts.push(`<rect x="${x}" y="${height - 18}" width="10" height="10" fill="${color}"/><text x="${x + 14}" y="${height - 9}">${name}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
