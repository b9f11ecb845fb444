// The alerting rules a team loads into Prometheus (examples/monitoring/pgdrill-alerts.yml): checked
// and unit-tested by the real promtool (scripts/setup-prometheus.sh installs it), and held to the
// metrics the nightly verification really writes, so that neither can drift from the other.
// The real output is rendered here by src/nightly/prometheus.ts for a fleet of two nights (the
// textfile, the last success carried forward) and pushed to a real Pushgateway; every input series
// of pgdrill-alerts.test.yml must be one of those series (name, label names and values but the
// job and instance a scrape adds), and every metric, label matcher and $labels template of the
// rules must name a metric, a label and a label value that output holds.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { type BackupVerification, type NightlyResult, noEvidence } from "../../src/nightly/nightly-result.ts";
import { NIGHTLY_METRIC_NAMES, PUSHGATEWAY_JOB, pushToPushgateway, readSamples, renderNightlyMetrics } from "../../src/nightly/prometheus.ts";
import { fleetReportOf } from "../support/fleet-report-of.ts";
import { PUSHGATEWAY_BUDGET, type RunningPushgateway, startPushgateway } from "../support/pushgateway-process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MONITORING = join(ROOT, "examples/monitoring");
const RULES = join(MONITORING, "pgdrill-alerts.yml");
const RULE_TESTS = join(MONITORING, "pgdrill-alerts.test.yml");
const README = join(ROOT, "README.md");
/** Labels a scrape adds (node_exporter's target, the Pushgateway's group): not written by pgdrill. */
const SCRAPE_LABELS = ["job", "instance"];

// --- The fleet pgdrill-alerts.test.yml describes, rendered by the real code -------------------------

const BARMAN = "SSH barman@backup-1";
const NIGHT_1_END = "2026-11-24T00:10:00.000Z";
const NIGHT_2_END = "2026-11-25T00:10:00.000Z";

const verified: BackupVerification = { verdict: "verified", by: "barman verify-backup", reason: null, sentence: "backup verified" };

/** A server that passed on night 2: every phase ran, every time known, its backup verified. */
function passed(server: string, finishedAt = NIGHT_2_END): NightlyResult {
  return {
    verdict: "pass",
    startedAt: "2026-11-25T00:05:00.000Z",
    finishedAt,
    mode: "full WAL replay",
    postgresMajor: 17,
    freshness: {
      measuredAt: "2026-11-25T00:05:00.000Z",
      backupEndTime: "2026-11-24T20:05:00.000Z",
      backupAgeS: 14_400,
      newestWalTime: "2026-11-25T00:04:30.000Z",
      newestWalAgeS: 30,
      recoveryPointTime: "2026-11-25T00:04:28.500Z",
      recoveryPointAgeS: 31.5,
      recoveryPointSource: "pg_last_committed_xact",
    },
    transferredBytes: 46_137_344,
    barman: BARMAN,
    server,
    backupId: "20261124T200500",
    backupEndTime: "2026-11-24T20:05:00.000Z",
    backupSizeBytes: 44_040_192,
    target: { kind: "latest" },
    workDirectory: "/var/tmp/pgdrill-verify-abc",
    phasesMs: { verifyBackupMs: 1200, barmanRecoverMs: 2500, transferMs: 1800, instanceStartUntilPromotedMs: 900, verificationMs: 350 },
    totalMs: 7000,
    checks: [{ name: "pg_amcheck", kind: "amcheck", ok: true, expected: [], actual: [], durationMs: 300 }],
    problems: [],
    failedPhase: undefined,
    interrupted: false,
    barmanCommands: [],
    ...noEvidence(),
    backupVerification: verified,
  };
}

/** A server that failed on night 2 in `failedPhase`, before its recovery ended: no recovery point, no transfer, the later phases absent. */
function failed(
  server: string,
  failedPhase: NightlyResult["failedPhase"],
  backupVerification: BackupVerification,
  barmanRecoverMs: number | null = null,
): NightlyResult {
  const base = passed(server);
  return {
    ...base,
    verdict: "fail",
    freshness: { ...base.freshness, recoveryPointTime: null, recoveryPointAgeS: null, recoveryPointSource: null },
    transferredBytes: null,
    phasesMs: { verifyBackupMs: 1100, barmanRecoverMs, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null },
    totalMs: 4000,
    checks: [],
    problems: [`${failedPhase}: failed`],
    failedPhase,
    backupVerification,
  };
}

/** Night 2 as pgdrill-alerts.test.yml's header describes it. */
function night2(): NightlyResult[] {
  const ledger = passed("ledger");
  const reports = failed("reports", "barman recover", verified);
  return [
    passed("main-db"),
    // Failed at the instance start, where the restored copy would have been checked: its files not reached.
    failed("analytics", "instance start", noEvidence().backupVerification, 2400),
    { ...passed("billing"), backupVerification: { verdict: "not verified", by: null, reason: "no manifest", sentence: "no backup_manifest" } },
    failed("sales", "backup verification", { verdict: "damaged", by: "barman verify-backup", reason: null, sentence: "damaged" }),
    { ...ledger, freshness: { ...ledger.freshness, backupAgeS: 108_000, newestWalAgeS: 7000, recoveryPointAgeS: 7200 } },
    { ...reports, freshness: { ...reports.freshness, newestWalAgeS: 5400 } },
  ];
}

const fleet = (servers: NightlyResult[]): FleetReport => fleetReportOf(servers, BARMAN);

// --- Reading the rules, their tests and the real output ---------------------------------------------

interface Series {
  name: string;
  labels: Record<string, string>;
}

/** A promtool series ('name{a="b",...}') or an exposition line without its value, as name and labels. */
function parseSeries(selector: string): Series {
  const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(selector)?.[0] ?? "";
  const [sample] = readSamples(`${selector} 0`, name);
  if (!name || !sample) throw new Error(`not a series: ${selector}`);
  return { name, labels: sample.labels };
}

/** The labels as Prometheus stores them: a label with an empty value is no label (the Pushgateway's instance="", a state set's reason=""). */
const stored = (labels: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(labels).filter(([, value]) => value !== ""));

/** Every sample of the exposition `text` whose name starts with pgdrill_, as Series. */
function seriesOf(text: string): Series[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("pgdrill_"))
    .map((line) => parseSeries(line.replace(/\s+\S+$/, "")));
}

const withoutScrapeLabels = (labels: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(labels).filter(([name]) => !SCRAPE_LABELS.includes(name)));
const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean =>
  JSON.stringify(Object.entries(stored(a)).sort()) === JSON.stringify(Object.entries(stored(b)).sort());
const show = (s: Series): string => `${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`)}}`;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
}

const rulesOf = (text: string): Rule[] => (parse(text) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const ruleTestsOf = (text: string): RuleTest[] => (parse(text) as { tests: RuleTest[] }).tests;

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

/**
 * What in the rules and their tests does not match the real output: one line each. `textfile` is
 * the rendered textfile (series without scrape labels), `pushed` what the Pushgateway exposes.
 */
function driftProblems(rulesText: string, testsText: string, textfile: Series[], pushed: Series[], readme: string): string[] {
  const problems: string[] = [];
  const real = [...textfile, ...pushed.map((s) => ({ name: s.name, labels: withoutScrapeLabels(s.labels) }))];
  const labelNames = (metric: string): Set<string> => new Set(real.filter((s) => s.name === metric).flatMap((s) => Object.keys(s.labels)));
  // A label matcher can also compare with "" (the value of a label a series lacks).
  const labelValues = (metric: string, label: string): Set<string> => new Set(["", ...real.filter((s) => s.name === metric).map((s) => s.labels[label] ?? "")]);

  // 1. Every input series is one the real code writes, for that server.
  for (const test of ruleTestsOf(testsText)) {
    for (const { series } of test.input_series) {
      const parsed = parseSeries(series);
      if (!NIGHTLY_METRIC_NAMES.includes(parsed.name)) {
        problems.push(`test "${test.name}": ${parsed.name} is not a metric pgdrill writes`);
        continue;
      }
      // Label names first, empty values included (a misspelled reason="" would otherwise vanish as stored).
      for (const label of Object.keys(parsed.labels)) {
        if (!SCRAPE_LABELS.includes(label) && !labelNames(parsed.name).has(label)) {
          problems.push(`test "${test.name}": ${series} has a label ${label}, which pgdrill never writes on ${parsed.name}`);
        }
      }
      if (parsed.labels["job"] === PUSHGATEWAY_JOB) {
        // From the Pushgateway: the labels it exposes, job included and the empty instance dropped.
        if (!pushed.some((s) => s.name === parsed.name && sameLabels(s.labels, parsed.labels))) {
          problems.push(`test "${test.name}": ${series} is not a series the Pushgateway exposes for pgdrill's push`);
        }
      } else if (!textfile.some((s) => s.name === parsed.name && sameLabels(s.labels, withoutScrapeLabels(parsed.labels)))) {
        const sameServer = textfile.filter((s) => s.name === parsed.name && s.labels["server"] === parsed.labels["server"]).map(show);
        problems.push(
          `test "${test.name}": ${series} is not a series the textfile holds (for this metric and server it holds: ${sameServer.join(", ") || "nothing"})`,
        );
      }
    }
  }

  // 2. Every metric, label and label value the rules name is in the real output.
  const rules = rulesOf(rulesText);
  for (const rule of rules) {
    const metrics = new Set<string>();
    for (const match of rule.expr.matchAll(/\b(pgdrill_[A-Za-z0-9_]*)(\{([^}]*)\})?/g)) {
      const metric = match[1]!;
      metrics.add(metric);
      if (!NIGHTLY_METRIC_NAMES.includes(metric)) {
        problems.push(`${rule.alert}: ${metric} is not a metric pgdrill writes`);
        continue;
      }
      for (const matcher of (match[3] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
        const [, label, op, value] = matcher as unknown as [string, string, string, string];
        if (SCRAPE_LABELS.includes(label)) continue;
        if (!labelNames(metric).has(label)) problems.push(`${rule.alert}: ${metric} has no label ${label}`);
        else if ((op === "=" || op === "!=") && !labelValues(metric, label).has(value)) {
          problems.push(
            `${rule.alert}: ${metric}'s label ${label} never has the value "${value}" (it has ${[...labelValues(metric, label)].map((v) => `"${v}"`)})`,
          );
        }
      }
    }
    const carried = new Set([...[...metrics].flatMap((m) => [...labelNames(m)]), ...SCRAPE_LABELS]);
    for (const match of rule.expr.matchAll(/\b(?:on|ignoring|by|without|group_left|group_right)\s*\(([^)]*)\)/g)) {
      for (const label of match[1]!
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean)) {
        if (!carried.has(label)) problems.push(`${rule.alert}: matches or groups on ${label}, a label its metrics do not carry`);
      }
    }
    for (const match of rule.expr.matchAll(/label_replace\([\s\S]*?,\s*"([A-Za-z_][A-Za-z0-9_]*)"/g)) carried.add(match[1]!);
    // (An unknown metric carries no known label: said once above, not once per $labels.)
    for (const text of [...metrics].every((m) => NIGHTLY_METRIC_NAMES.includes(m)) ? Object.values(rule.annotations ?? {}) : []) {
      for (const match of text.matchAll(/\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!carried.has(match[1]!)) problems.push(`${rule.alert}: an annotation names $labels.${match[1]}, a label the alert does not carry`);
      }
    }
    // Every alert: a `for`, a severity, a team, summary, description and runbook_url; the runbook is a README heading.
    if (!rule.for) problems.push(`${rule.alert}: no for:`);
    if (!["critical", "warning"].includes(rule.labels?.["severity"] ?? "")) problems.push(`${rule.alert}: severity is not critical or warning`);
    if (!rule.labels?.["team"]) problems.push(`${rule.alert}: no team label`);
    for (const annotation of ["summary", "description", "runbook_url"]) {
      if (!rule.annotations?.[annotation]) problems.push(`${rule.alert}: no ${annotation} annotation`);
    }
    const runbook = /^README\.md#(.+)$/.exec(rule.annotations?.["runbook_url"] ?? "")?.[1];
    const headings = [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!));
    if (!runbook || !headings.includes(runbook)) problems.push(`${rule.alert}: runbook_url is not README.md#<a heading of README.md>`);
  }

  // 3. Every alert has a test where it fires and one where it does not; every test names an alert that exists.
  const alerts = rules.map((r) => r.alert);
  const cases = ruleTestsOf(testsText).flatMap((t) => t.alert_rule_test ?? []);
  for (const alert of alerts) {
    if (!cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0)) problems.push(`${alert}: no test where it fires`);
    if (!cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0)) problems.push(`${alert}: no test where it does not fire`);
  }
  for (const c of cases) if (!alerts.includes(c.alertname)) problems.push(`a test at ${c.eval_time} expects ${c.alertname}, which no rule defines`);
  return [...new Set(problems)];
}

/** promtool with `args`: its exit code and everything it said. */
function promtool(args: string[], cwd = ROOT): { status: number | null; output: string } {
  const run = spawnSync("promtool", args, { cwd, encoding: "utf8" });
  if (run.error) {
    throw new Error(`promtool could not be run (${run.error.message}); install it with 'bash scripts/setup-prometheus.sh' (Debian package prometheus)`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

// --- The tests ------------------------------------------------------------------------------------

let gateway: RunningPushgateway | undefined;
let textfile: Series[] = [];
let pushed: Series[] = [];
let rulesText = "";
let testsText = "";
let readme = "";
const scratch: string[] = [];

beforeAll(async () => {
  [rulesText, testsText, readme] = await Promise.all([readFile(RULES, "utf8"), readFile(RULE_TESTS, "utf8"), readFile(README, "utf8")]);
  // Night 1: every server passed; night 2 as the tests describe, its textfile carrying night 1's successes.
  const servers = night2();
  const night1 = fleet(servers.map((s) => passed(s.server, NIGHT_1_END)));
  textfile = seriesOf(await renderNightlyMetrics(fleet(servers), await renderNightlyMetrics(night1)));
  gateway = await startPushgateway();
  await pushToPushgateway(gateway.url, night1);
  await pushToPushgateway(gateway.url, fleet(servers));
  pushed = seriesOf(await (await fetch(`${gateway.url}/metrics`)).text());
}, PUSHGATEWAY_BUDGET.ms + 10_000);

afterAll(async () => {
  await gateway?.stop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
}, PUSHGATEWAY_BUDGET.ms + 5_000);

describe("examples/monitoring/pgdrill-alerts.yml", () => {
  test("promtool check rules accepts every rule", () => {
    const check = promtool(["check", "rules", RULES]);
    expect(check.status, check.output).toBe(0);
    expect(check.output).toContain(`SUCCESS: ${rulesOf(rulesText).length} rules found`);
  });

  test("promtool test rules passes pgdrill-alerts.test.yml", () => {
    const run = promtool(["test", "rules", RULE_TESTS]);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS");
  });

  test("the rules and their tests use only metrics, labels and label values the nightly verification writes", () => {
    // The real output holds what the rules rely on (a sanity check of the fixture itself).
    expect(textfile.some((s) => s.name === "pgdrill_nightly_backup_verification" && s.labels["reason"] === "no_manifest")).toBe(true);
    expect(pushed.some((s) => s.name === "pgdrill_nightly_success" && s.labels["job"] === PUSHGATEWAY_JOB)).toBe(true);
    expect(driftProblems(rulesText, testsText, textfile, pushed, readme)).toEqual([]);
  });
});

describe("the checks can fail", () => {
  test("a misspelled metric in a rule: promtool's tests fail on the alert, the drift check names the metric", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pgdrill-alert-rules-"));
    scratch.push(dir);
    const broken = rulesText.replace("expr: pgdrill_nightly_success == 0", "expr: pgdrill_nightly_succes == 0");
    expect(broken).not.toBe(rulesText);
    await writeFile(join(dir, "pgdrill-alerts.yml"), broken);
    await writeFile(join(dir, "pgdrill-alerts.test.yml"), testsText);
    const run = promtool(["test", "rules", "pgdrill-alerts.test.yml"], dir);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain("alertname: PgdrillVerificationFailed");
    expect(driftProblems(broken, testsText, textfile, pushed, readme)).toContain(
      "PgdrillVerificationFailed: pgdrill_nightly_succes is not a metric pgdrill writes",
    );
  });

  test("a wrong label value, a series the real code does not write, a misspelled empty label, an alert without a silent case", () => {
    const rules = rulesText.replace('reason!="not_reached"', 'reason!="not reached"');
    const tests = testsText
      .replace(
        'pgdrill_nightly_wal_age_seconds{server="reports"',
        'pgdrill_nightly_recovery_point_age_seconds{server="reports",barman="SSH barman@backup-1",job="node",instance="backup-1:9100"}\'\n        values: "1x60"\n      - series: \'pgdrill_nightly_wal_age_seconds{server="reports"',
      )
      .replace(
        'server="main-db",barman="SSH barman@backup-1",state="damaged",reason=""',
        'server="main-db",barman="SSH barman@backup-1",state="damaged",reasn=""',
      )
      .replace(/ {6}- eval_time: 3h\n {8}alertname: PgdrillBackupTooOld\n {8}exp_alerts: \[\]\n/, "")
      .replace(/ {6}- eval_time: 20m\n {8}alertname: PgdrillBackupTooOld\n {8}exp_alerts: \[\]\n/, "");
    const problems = driftProblems(rules, tests, textfile, pushed, readme);
    expect(problems).toContain(
      `PgdrillBackupNotVerified: pgdrill_nightly_backup_verification's label reason never has the value "not reached" (it has "","not_reached","no_manifest")`,
    );
    expect(problems.some((p) => p.startsWith('test "freshness objectives": pgdrill_nightly_recovery_point_age_seconds{server="reports"'))).toBe(true);
    expect(problems).toContain(
      'test "a good night (textfile)": pgdrill_nightly_backup_verification{server="main-db",barman="SSH barman@backup-1",state="damaged",reasn="",job="node",instance="backup-1:9100"} has a label reasn, which pgdrill never writes on pgdrill_nightly_backup_verification',
    );
    expect(problems).toContain("PgdrillBackupTooOld: no test where it does not fire");
    expect(problems).toHaveLength(4);
  });
});
