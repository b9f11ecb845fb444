// What a run left in an Allure results directory, read the way the report reads it: the browser
// check derives what the report must show (which steps failed, with which cause and evidence, which
// were skipped and why, how many of each) from the results, never from the report itself.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type ResultStatus = "passed" | "failed" | "broken" | "skipped" | "unknown";

interface RawStep {
  attachments?: Array<{ name: string }>;
  steps?: RawStep[];
}
interface RawResult extends RawStep {
  name: string;
  fullName?: string;
  historyId?: string;
  status?: string;
  stop?: number;
  description?: string;
  statusDetails?: { message?: string };
  labels?: Array<{ name: string; value: string }>;
}

export interface ResultSummary {
  name: string;
  /** Allure's full name (file, suite and name): what tells apart the same step of different drills. */
  fullName: string;
  /** The test file, as Allure's package label has it (pg-dr-drill.tests.drill.drill.test.ts). */
  file: string;
  /** The describe the step belongs to (Allure's parentSuite label). */
  suite: string;
  status: ResultStatus;
  /** The first line of the failure's message: the cause sentence a reader sees first. */
  cause?: string;
  /** The whole message (what Allure's category matchers read). */
  message?: string;
  /** The description (a skipped step's says which step stopped it). */
  description?: string;
  /** Every attachment of the result and of its steps, by name. */
  attachments: string[];
}

const STATUSES: ResultStatus[] = ["passed", "failed", "broken", "skipped"];

function attachmentsOf(step: RawStep): string[] {
  return [...(step.attachments ?? []).map((a) => a.name), ...(step.steps ?? []).flatMap(attachmentsOf)];
}

/** One summary per test as the report counts them: a retried test (same historyId) is its last attempt. */
export function summarizeResults(raw: RawResult[]): ResultSummary[] {
  const latest = new Map<string, RawResult>();
  for (const [i, result] of raw.entries()) {
    const key = result.historyId ?? `no-history-${i}`;
    const seen = latest.get(key);
    if (!seen || (result.stop ?? 0) >= (seen.stop ?? 0)) latest.set(key, result);
  }
  return [...latest.values()].map((r) => {
    const label = (name: string): string => r.labels?.find((l) => l.name === name)?.value ?? "";
    const status = (STATUSES as string[]).includes(r.status ?? "") ? (r.status as ResultStatus) : "unknown";
    const cause = r.statusDetails?.message?.split("\n").find((line) => line.trim() !== "");
    return {
      name: r.name,
      fullName: r.fullName ?? r.name,
      file: label("package"),
      suite: label("parentSuite"),
      status,
      ...(cause ? { cause: cause.trim() } : {}),
      ...(r.statusDetails?.message ? { message: r.statusDetails.message } : {}),
      ...(r.description ? { description: r.description } : {}),
      attachments: attachmentsOf(r),
    };
  });
}

export function readResults(dir: string): ResultSummary[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => f.endsWith("-result.json"));
  return summarizeResults(files.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as RawResult));
}

export function countByStatus(results: ResultSummary[]): Record<"total" | ResultStatus, number> {
  const counts = { total: results.length, passed: 0, failed: 0, broken: 0, skipped: 0, unknown: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}

/** A red run: any result failed or broken. */
export function isRed(results: ResultSummary[]): boolean {
  return results.some((r) => r.status === "failed" || r.status === "broken");
}

/** A category rule as allurerc.mjs writes it (Allure 3's canonical form). */
export interface CategoryRule {
  name: string;
  matchers: { statuses?: string[]; message?: RegExp };
}

/**
 * The category Allure 3 puts a failed result in: the first rule whose statuses and message match
 * (a partial match, RegExp.test), else its own "Product errors" (failed) or "Test errors" (broken).
 */
export function expectedCategory(result: ResultSummary, rules: CategoryRule[]): string {
  const rule = rules.find(
    (r) => (r.matchers.statuses ?? []).includes(result.status) && (r.matchers.message === undefined || r.matchers.message.test(result.message ?? "")),
  );
  return rule?.name ?? (result.status === "broken" ? "Test errors" : "Product errors");
}
