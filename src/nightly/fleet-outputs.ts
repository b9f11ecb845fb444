// JUnit XML and Allure results of a nightly fleet verification (a FleetReport), written without a
// test framework: `npm run verify:existing` is a plain Node script, yet each server it verified
// shows up as its own test in CI's test view and in the same Allure report as the drill's tests,
// with history and retries lined up across nights and shards.
import { ContentType, type Label, LabelName, type Parameter, Stage, Status, type StatusDetails } from "allure-js-commons";
import { FileSystemWriter, getEnvironmentLabels, getHostLabel, ReporterRuntime } from "allure-js-commons/sdk/reporter";
import { describeTarget } from "../barman/recovery-target.ts";
import { MIB, seconds } from "../support/measure.ts";
import type { FleetReport } from "./fleet-report.ts";
import type { NightlyPhase, NightlyPhasesMs, NightlyResult } from "./nightly-result.ts";
import { renderNightlySummary } from "./summary.ts";

export interface FleetOutputOptions {
  /**
   * Applied to every text that is written (names, labels, parameters, messages, attachments), so
   * the caller can mask secrets. Results hold none today; default: the text unchanged.
   */
  mask?: (text: string) => string;
}

/** passed; failed: the backup did not verify; broken: nothing was concluded about the backup. */
export type NightlyOutcome = "passed" | "failed" | "broken";

/**
 * Phases whose failure says nothing about the backup itself: moving the recovered copy between the
 * Barman server and our throwaway container, and removing what we made.
 */
const NOT_ABOUT_THE_BACKUP: ReadonlySet<NightlyPhase> = new Set<NightlyPhase>(["transfer", "clean-up"]);

/** Causes that stop a verification without saying anything about the backup (src/nightly/cause.ts). */
const NOT_ABOUT_THE_BACKUP_CAUSES: ReadonlySet<NonNullable<NightlyResult["cause"]>> = new Set(["disk full", "ssh"] as const);

export function nightlyOutcome(result: NightlyResult): NightlyOutcome {
  if (result.verdict === "pass") return "passed";
  if (result.interrupted || (result.failedPhase !== undefined && NOT_ABOUT_THE_BACKUP.has(result.failedPhase))) return "broken";
  if (result.cause !== null && NOT_ABOUT_THE_BACKUP_CAUSES.has(result.cause)) return "broken";
  return "failed";
}

const unchanged = (text: string): string => text;

/**
 * A failed run that verified no server at all (FleetReport: such a run fails) still shows as one
 * failure in JUnit and Allure, not as an empty suite that CI would count as green.
 */
const nothingVerified = (report: FleetReport): boolean => report.servers.length === 0 && report.verdict === "fail";
const NOTHING_VERIFIED = "(no server verified)";
const nothingVerifiedProblem = (report: FleetReport): string => `the run verified no server of the Barman ${report.barman} (shard ${report.shard})`;

const JUNIT_CLASSNAME = "pgdrill.nightly";

/**
 * One <testsuite> for the Barman server, one <testcase> per PostgreSQL server: a <failure> when the
 * backup did not verify, an <error> when nothing was concluded (interrupted, transfer, clean-up),
 * both typed by the failed phase and holding every problem; the summary as <system-out>.
 */
export function renderFleetJunit(report: FleetReport, options: FleetOutputOptions = {}): string {
  const mask = options.mask ?? unchanged;
  const attr = (value: string): string => xmlAttribute(mask(value));
  const text = (value: string): string => xmlText(mask(value));
  const outcomes = report.servers.map(nightlyOutcome);
  const empty = nothingVerified(report);
  const failures = outcomes.filter((o) => o === "failed").length + (empty ? 1 : 0);
  const errors = outcomes.filter((o) => o === "broken").length;
  // The servers ran in parallel: the suite's time is the run's wall clock, not the sum of its cases.
  const wallSeconds = junitSeconds(Date.parse(report.finishedAt) - Date.parse(report.startedAt));
  const counts = `tests="${report.servers.length + (empty ? 1 : 0)}" failures="${failures}" errors="${errors}" skipped="0" time="${wallSeconds}"`;
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${attr(`pgdrill nightly verification ${report.barman}`)}" ${counts}>`,
    `  <testsuite name="${attr(`nightly verification ${report.barman}`)}" ${counts} timestamp="${attr(report.startedAt)}">`,
    "    <properties>",
    `      <property name="runId" value="${attr(report.runId)}"/>`,
    `      <property name="shard" value="${attr(report.shard)}"/>`,
    `      <property name="barman" value="${attr(report.barman)}"/>`,
    "    </properties>",
  ];
  report.servers.forEach((result, i) => {
    lines.push(
      `    <testcase classname="${JUNIT_CLASSNAME}" name="${attr(result.server)}" time="${junitSeconds(result.totalMs)}">`,
      // The backup's files against their manifest, apart from the verdict: "not verified" is not damage.
      "      <properties>",
      `        <property name="backupVerification" value="${attr(result.backupVerification.verdict)}"/>`,
      `        <property name="backupVerificationReason" value="${attr(result.backupVerification.sentence)}"/>`,
      "      </properties>",
    );
    const outcome = outcomes[i];
    if (outcome !== "passed") {
      const element = outcome === "broken" ? "error" : "failure";
      const [first = "failed without a recorded problem"] = result.problems;
      lines.push(`      <${element} message="${attr(first)}" type="${attr(result.failedPhase ?? "unknown")}">${text(result.problems.join("\n"))}</${element}>`);
    }
    lines.push(`      <system-out>${text(renderNightlySummary(result))}</system-out>`, "    </testcase>");
  });
  if (empty) {
    lines.push(
      `    <testcase classname="${JUNIT_CLASSNAME}" name="${NOTHING_VERIFIED}" time="0.000">`,
      `      <failure message="${attr(nothingVerifiedProblem(report))}" type="backup selection"/>`,
      "    </testcase>",
    );
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}

const junitSeconds = (ms: number): string => (Number.isFinite(ms) ? Math.max(0, ms) / 1000 : 0).toFixed(3);

/**
 * Characters XML 1.0 allows (even as a character reference) are tab, LF, CR, U+0020-U+D7FF,
 * U+E000-U+FFFD and U+10000 up; anything else (NUL, ESC of a colour code, a lone surrogate) is
 * written as a visible \xNN or \uNNNN so a reader sees it was there.
 */
function xmlChars(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
    out += allowed ? char : code <= 0xff ? `\\x${code.toString(16).toUpperCase().padStart(2, "0")}` : `\\u${code.toString(16).toUpperCase()}`;
  }
  return out;
}

const TEXT_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" };
// In an attribute a reader turns tab, CR and LF into spaces unless they are character references.
const ATTRIBUTE_ESCAPES: Record<string, string> = { ...TEXT_ESCAPES, '"': "&quot;", "'": "&apos;", "\n": "&#10;", "\t": "&#9;" };

const xmlText = (value: string): string => xmlChars(value).replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!);
const xmlAttribute = (value: string): string => xmlChars(value).replace(/[&<>"'\r\n\t]/g, (c) => ATTRIBUTE_ESCAPES[c]!);

/** What writeFleetAllureResults wrote for one server: its result file is `${uuid}-result.json`. */
export interface AllureResultWritten {
  server: string;
  uuid: string;
  status: NightlyOutcome;
}

/** The phases the verification measures, in the order they run; the others get a step only when they failed. */
const PHASE_STEPS: Array<{ phase: NightlyPhase; name: string; measured?: keyof NightlyPhasesMs }> = [
  { phase: "backup selection", name: "select: the backup to verify" },
  { phase: "backup verification", name: "verify: the backup's files against its manifest", measured: "verifyBackupMs" },
  { phase: "WAL verification", name: "WAL: every segment the restore needs in Barman's archive" },
  { phase: "barman recover", name: "restore: barman recover into a temporary directory", measured: "barmanRecoverMs" },
  { phase: "transfer", name: "transfer: the recovered data directory into the throwaway instance", measured: "transferMs" },
  { phase: "instance start", name: "start: the throwaway instance until promoted", measured: "instanceStartUntilPromotedMs" },
  { phase: "verification", name: "checks: on the recovered instance", measured: "verificationMs" },
  { phase: "objectives", name: "objectives: RTO of the restore phases" },
  { phase: "clean-up", name: "clean-up: temporary directory and throwaway instance" },
];

const ALLURE_STATUS: Record<NightlyOutcome, Status> = { passed: Status.PASSED, failed: Status.FAILED, broken: Status.BROKEN };

/**
 * One Allure test result per server in `resultsDir`, through allure-js-commons' own reporter
 * runtime and file writer (the files allure-vitest writes, read by `allure generate`).
 *
 * History: Allure 3 derives a result's history id from its test case id (here md5 of fullName,
 * which is "pgdrill.nightly/<barman>/<server>") and its parameters that are not excluded. Every
 * parameter is excluded, so tonight's backup id or a PostgreSQL upgrade do not start a new history.
 *
 * Timings: the test spans the server's startedAt..finishedAt; the steps are laid out from startedAt
 * by the measured phase durations, in the order the phases run. Backup selection (before) and
 * clean-up (after) are not measured apart, so a step may show earlier than it ran by the selection's
 * time; a failed phase that did not finish is drawn until finishedAt (an interrupted one as an instant).
 */
export function writeFleetAllureResults(report: FleetReport, resultsDir: string, options: FleetOutputOptions = {}): AllureResultWritten[] {
  const mask = options.mask ?? unchanged;
  const runtime = new ReporterRuntime({
    writer: new FileSystemWriter({ resultsDir }),
    // ALLURE_LABEL_<NAME>=value, as the allure-vitest reporter applies them to the drill's tests.
    globalLabels: getEnvironmentLabels().map((l) => ({ name: l.name, value: mask(l.value) })),
  });
  const host = mask(getHostLabel().value);
  const written = report.servers.map((result) => writeServerResult(runtime, report, result, { host, mask }));
  if (nothingVerified(report)) written.push(writeNothingVerified(runtime, report, { host, mask }));
  return written;
}

const featureLabels = (barman: string): Label[] => [
  { name: LabelName.EPIC, value: "Disaster recovery" },
  { name: LabelName.FEATURE, value: "Nightly verification of an existing Barman server" },
  { name: LabelName.STORY, value: barman },
  { name: LabelName.PARENT_SUITE, value: "Nightly verification" },
  { name: LabelName.SUITE, value: barman },
];

function writeNothingVerified(
  runtime: ReporterRuntime,
  report: FleetReport,
  { host, mask }: { host: string; mask: (text: string) => string },
): AllureResultWritten {
  const start = instant(report.startedAt, "the run's startedAt");
  const problem = mask(nothingVerifiedProblem(report));
  const uuid = runtime.startTest({
    name: mask(`Nightly verification of ${report.barman}: ${NOTHING_VERIFIED}`),
    fullName: mask(`${JUNIT_CLASSNAME}/${report.barman}/${NOTHING_VERIFIED}`),
    titlePath: ["Nightly verification", mask(report.barman)],
    start,
    labels: [...featureLabels(mask(report.barman)), { name: LabelName.HOST, value: host }],
    parameters: [
      { name: "shard", value: mask(report.shard), excluded: true },
      { name: "run id", value: mask(report.runId), excluded: true },
    ],
    status: Status.FAILED,
    statusDetails: { message: problem, trace: problem },
    stage: Stage.FINISHED,
  });
  runtime.stopTest(uuid, { stop: Math.max(start, instant(report.finishedAt, "the run's finishedAt")) });
  runtime.writeTest(uuid);
  return { server: NOTHING_VERIFIED, uuid, status: "failed" };
}

function writeServerResult(
  runtime: ReporterRuntime,
  report: FleetReport,
  result: NightlyResult,
  { host, mask }: { host: string; mask: (text: string) => string },
): AllureResultWritten {
  const start = instant(result.startedAt, `startedAt of server '${result.server}'`);
  const finish = Math.max(start, instant(result.finishedAt, `finishedAt of server '${result.server}'`));
  const outcome = nightlyOutcome(result);
  const details: StatusDetails =
    outcome === "passed" ? {} : { message: mask(result.problems[0] ?? "failed without a recorded problem"), trace: mask(result.problems.join("\n")) };
  const labels: Label[] = [
    ...featureLabels(mask(result.barman)),
    { name: LabelName.HOST, value: host },
    // One timeline lane per server: the servers of a run are verified in parallel.
    { name: LabelName.THREAD, value: mask(`${result.server} on ${result.barman}`) },
    ...(result.postgresMajor !== undefined ? [{ name: LabelName.TAG, value: `PostgreSQL ${result.postgresMajor}` }] : []),
  ];
  const parameter = (name: string, value: string): Parameter => ({ name, value: mask(value), excluded: true });
  const uuid = runtime.startTest({
    name: mask(`Nightly verification of ${result.server}`),
    fullName: mask(`${JUNIT_CLASSNAME}/${result.barman}/${result.server}`),
    titlePath: ["Nightly verification", mask(result.barman)],
    start,
    labels,
    parameters: [
      parameter("backup id", result.backupId ?? "none resolved"),
      parameter("PostgreSQL major", result.postgresMajor === undefined ? "unknown" : String(result.postgresMajor)),
      parameter("mode", result.mode),
      parameter("target", describeTarget(result.target)),
      parameter("shard", report.shard),
      parameter("run id", report.runId),
    ],
  });

  const failedStatus = ALLURE_STATUS[outcome];
  let cursor = start;
  for (const { phase, name, measured } of PHASE_STEPS) {
    const failed = result.failedPhase === phase && outcome !== "passed";
    if (!measured && !failed) continue;
    const ms = measured ? result.phasesMs[measured] : null;
    const stop = ms !== null ? cursor + ms : failed && !result.interrupted ? Math.max(cursor, finish) : cursor;
    const status = failed ? failedStatus : ms !== null ? Status.PASSED : Status.SKIPPED;
    const step = runtime.startStep(uuid, null, {
      name: mask(phase === "verification" ? `${name} (${result.checks.length} checks)` : name),
      start: cursor,
      status,
      statusDetails: failed ? details : {},
      parameters: stepParameters(result, phase).map(([key, value]) => ({ name: key, value: mask(value) })),
    })!;
    if (phase === "verification") writeCheckSteps(runtime, uuid, step, result, cursor, mask);
    runtime.stopStep(step, { stop });
    cursor = stop;
  }

  const attach = (name: string, contentType: ContentType, content: string): void =>
    runtime.writeAttachment(uuid, null, name, Buffer.from(mask(content), "utf8"), { contentType });
  attach("summary", ContentType.TEXT, renderNightlySummary(result));
  attach("nightly result", ContentType.JSON, JSON.stringify(result, null, 2));
  attach("Barman commands", ContentType.TEXT, barmanTranscript(result));
  attach("freshness", ContentType.JSON, JSON.stringify(result.freshness, null, 2));

  runtime.updateTest(uuid, (test) => {
    test.status = ALLURE_STATUS[outcome];
    test.statusDetails = details;
    test.stage = result.interrupted ? Stage.INTERRUPTED : Stage.FINISHED;
  });
  runtime.stopTest(uuid, { stop: finish });
  runtime.writeTest(uuid);
  return { server: result.server, uuid, status: outcome };
}

function instant(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`${what} is '${iso}', not an ISO 8601 time: the Allure result needs it for its timings`);
  return ms;
}

/** Sizes and throughput beside the phase they belong to. */
function stepParameters(result: NightlyResult, phase: NightlyPhase): Array<[string, string]> {
  const parameters: Array<[string, string]> = [];
  if (phase === "backup verification") {
    const v = result.backupVerification;
    parameters.push(["verdict", v.verdict], ["by", v.by ?? "nobody"], ["why", v.sentence]);
  }
  if (phase === "barman recover" && result.backupSizeBytes !== undefined) parameters.push(["backup size", `${(result.backupSizeBytes / MIB).toFixed(1)} MiB`]);
  if (phase === "transfer" && result.transferredBytes !== null) {
    parameters.push(["transferred", `${(result.transferredBytes / MIB).toFixed(1)} MiB`]);
    const ms = result.phasesMs.transferMs;
    if (ms) parameters.push(["throughput", `${(result.transferredBytes / MIB / (ms / 1000)).toFixed(1)} MiB/s`]);
  }
  return parameters;
}

/** Each check as a step of the checks phase, one after the other, with expected and actual rows. */
function writeCheckSteps(runtime: ReporterRuntime, root: string, parent: string, result: NightlyResult, from: number, mask: (text: string) => string): void {
  let cursor = from;
  for (const check of result.checks) {
    const statusDetails: StatusDetails = check.ok
      ? {}
      : {
          message: mask(
            check.error ? `the query failed: ${check.error}` : `returned ${JSON.stringify(check.actual)}, expected ${JSON.stringify(check.expected)}`,
          ),
          expected: mask(JSON.stringify(check.expected)),
          actual: mask(JSON.stringify(check.actual)),
        };
    const step = runtime.startStep(root, parent, {
      name: mask(`${check.kind} '${check.name}'`),
      start: cursor,
      status: check.ok ? Status.PASSED : Status.FAILED,
      statusDetails,
    })!;
    cursor += check.durationMs;
    runtime.stopStep(step, { stop: cursor });
  }
}

function barmanTranscript(result: NightlyResult): string {
  if (result.barmanCommands.length === 0) return "(no command ran on the Barman server)\n";
  return `${result.barmanCommands.map((c) => `exit ${String(c.exitCode).padStart(3)}  ${seconds(c.durationMs).padStart(10)}  ${c.command}`).join("\n")}\n`;
}
