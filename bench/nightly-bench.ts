// `npm run bench:nightly`: the nightly verification of an existing Barman host over SSH, at scale.
// A Barman host reached only over SSH with two servers (fixtures/fleet-host.ts: sales-pg15 on
// PostgreSQL 15, billing-pg17 on PostgreSQL 17), each loaded with N rows before its backup. Measured:
// each server alone (verifyExistingBackup: full WAL replay, one count check), both together
// (verifyFleet, concurrency 2), and a plain copy of the same bytes over the same path. Prints a table
// and writes reports/nightly-bench.json. A benchmark, not a test: it asserts nothing, it measures,
// and says whether the issue's targets are met:
//  - the transfer at >= 0.8x the plain copy's throughput;
//  - both servers together in < 1.3x the time of the slower one alone.
//
//   BENCH_NIGHTLY_ROWS=10000000   rows in each server's table at its backup (10,000,000: a ~870 MiB database, ~960 MiB restored)
//   BENCH_NIGHTLY_RUNS=1          repetitions of every measurement (median reported)
//
// The load is one INSERT ... SELECT generate_series and the backup one `barman backup` per server;
// at 10,000,000 rows the statement, backup, WAL-archive and recover budgets are raised (each still
// overridable by its own PGDRILL_BUDGET_*_S variable).
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, hostname, loadavg, totalmem } from "node:os";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { BarmanClient } from "../containers/barman/barman-client.ts";
import { type SshTarget, SshTransport, shellQuote, sshArgv } from "../containers/barman/ssh-transport.ts";
import { assertEngineAnswers, docker, LABEL_RUN, manualCleanupCommands, type ReapSummary, reap, runLabels } from "../containers/docker-resources.ts";
import { applyTestcontainersHost } from "../containers/engine-endpoint.ts";
import { ensureImages } from "../containers/images.ts";
import { DEFAULT_PLATFORM } from "../containers/platforms.ts";
import { ISOLATED_PGDATA_NAME } from "../containers/postgres/recovered-instance.ts";
import { type FleetServer, type FleetServerName, startTwoServerBarmanHost, type TwoServerBarmanHost } from "../fixtures/fleet-host.ts";
import { budgetEnvName, budgetOf, readSettings } from "../src/drill/config.ts";
import type { DrillRun } from "../src/engine/topology.ts";
import { verifyFleet } from "../src/nightly/fleet.ts";
import type { NightlyPhasesMs, NightlyResult } from "../src/nightly/nightly-result.ts";
import { recoveryImageResolver } from "../src/nightly/recovery-image.ts";
import { verifyExistingBackup } from "../src/nightly/verify-existing.ts";
import { DEFAULT_WORK_PARENT } from "../src/nightly/work-directories.ts";
import { MIB, mebibytes, monotonicNow } from "../src/support/measure.ts";
import { pollUntil } from "../src/support/wait.ts";

// Where published ports are reached (containers/engine-endpoint.ts), as in vitest.config.ts.
applyTestcontainersHost(process.env);

const wholeNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name}=${raw}: expected a positive whole number`);
    process.exit(2);
  }
  return value;
};
const ROWS = wholeNumber("BENCH_NIGHTLY_ROWS", 10_000_000);
const RUNS = wholeNumber("BENCH_NIGHTLY_RUNS", 1);
/** Targets of the issue. */
const TRANSFER_RATIO_TARGET = 0.8;
const PARALLEL_RATIO_TARGET = 1.3;

// One INSERT of every row, a backup of ~1 GB per server and the archiving of the load's WAL take
// longer than the drill's defaults allow; set before the settings are read, so the usual variables win.
const BENCH_BUDGETS_S = { sqlStatement: 3600, backup: 3600, walArchived: 1800, recover: 3600 } as const;
for (const [name, seconds] of Object.entries(BENCH_BUDGETS_S)) process.env[budgetEnvName(name as keyof typeof BENCH_BUDGETS_S)] ??= String(seconds);
const settings = readSettings();

const SERVERS: FleetServerName[] = ["sales-pg15", "billing-pg17"];
const say = (line: string): void => console.log(`[bench:nightly] ${line}`);
const s = (ms: number | null | undefined): string => (ms === null || ms === undefined || Number.isNaN(ms) ? "-" : `${(ms / 1000).toFixed(2)} s`);
const mib = (bytes: number): string => `${mebibytes(bytes)} MiB`;
const mibPerS = (bytes: number | null, ms: number | null): number => (bytes && ms ? bytes / MIB / (ms / 1000) : Number.NaN);
const rate = (value: number): string => (Number.isNaN(value) ? "-" : `${value.toFixed(1)} MiB/s`);
const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// --- What else runs on this machine while we measure ---------------------------------------------
/** The 1-minute load average and the containers of other runs on the same engine, at one instant. */
interface MachineLoad {
  at: string;
  loadAverage: [number, number, number];
  otherRunsContainers: number;
}
async function machineLoad(runId: string): Promise<MachineLoad> {
  const running = await docker().listContainers();
  const [one, five, fifteen] = loadavg() as [number, number, number];
  return {
    at: new Date().toISOString(),
    loadAverage: [one, five, fifteen],
    otherRunsContainers: running.filter((c) => c.Labels[LABEL_RUN] !== runId).length,
  };
}
const describeLoad = (l: MachineLoad): string =>
  `load average ${l.loadAverage.map((v) => v.toFixed(2)).join(", ")}; ${l.otherRunsContainers} container(s) of other runs on the engine`;

// --- Processes this benchmark starts (the plain copy's shell pipelines) --------------------------
const children = new Set<ChildProcess>();
/** Ends this benchmark's own pipelines: each runs in its own process group (detached), killed by its id. */
function killChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
}

/** A bash pipeline (pipefail), timed from spawn to exit; throws with its stderr on a non-zero exit. */
async function timedPipeline(what: string, script: string): Promise<{ ms: number; stdout: string; stderr: string }> {
  const started = monotonicNow();
  const child = spawn("bash", ["-c", `set -o pipefail; ${script}`], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8000);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exit, signal) => resolve(exit ?? (signal ? 128 : 1)));
  }).finally(() => children.delete(child));
  const ms = monotonicNow() - started;
  if (code !== 0) throw new Error(`${what} failed (exit ${code} after ${s(ms)}): ${stderr.trim() || "(no output)"}\n$ ${script}`);
  return { ms, stdout, stderr };
}

/** `ssh <the verification's own options> -- host '<remote>'` for a local shell. */
const sshCommand = (target: SshTarget, remote: string[]): string => ["ssh", ...sshArgv(target, remote)].map(shellQuote).join(" ");

// --- The plain copy ------------------------------------------------------------------------------
interface PlainCopy {
  /** `barman recover` of the same backup to the same target (full WAL replay), over SSH, for a directory to copy. */
  recoverMs: number;
  /** Creating the destination container (not part of copyMs; the verification's transfer phase does include its own). */
  createMs: number;
  /** tar's own count of the archive it wrote (--totals): the bytes of the copy. */
  bytes: number;
  copyMs: number;
  copyMiBs: number;
  /** The sending side alone: the same ssh + tar read into `wc -c` here, no Docker. */
  sourceOnlyMs: number;
  sourceOnlyMiBs: number;
  load: MachineLoad;
}

/**
 * The baseline: the verification's transfer without the verification. The directory `barman
 * recover` wrote for this server (same backup, same target, same path shape: the verification's own
 * prefix, so its leftover sweep covers it too) is copied with the plain tools a person would use:
 *
 *   ssh <same options, same key, same port> barman@127.0.0.1 tar --totals -C <dir> -cf - pgdata | docker cp - <container>:/var/tmp
 *
 * into a fresh, never-started container of the throwaway instance's own image, so the Docker engine
 * unpacks the archive (PUT /containers/{id}/archive, the API the verification's upload uses) onto
 * the same kind of filesystem (the container's rootfs). The time runs from spawning that pipeline to
 * its exit: SSH connection and authentication, tar reading the files on the Barman host, encryption
 * and decryption, the pipe into the docker CLI, the HTTP upload and the engine's unpacking, up to the
 * engine's answer. Not in it: creating the container (measured apart, createMs) and the few files the
 * verification adds (an empty postgresql.conf, an hba file). What the verification adds on top of the
 * same path is Node.js in the middle (ssh's stdout through a PassThrough and the counting Transform
 * into dockerode's request) and Testcontainers' create and copy steps.
 */
async function plainCopy(host: TwoServerBarmanHost, server: FleetServer, image: string, runId: string): Promise<PlainCopy> {
  const barman = new BarmanClient(new SshTransport(host.ssh, { commandBudget: budgetOf(settings, "recover") }), server.serverName);
  const made = await barman.transport.run(["mktemp", "-d", `${DEFAULT_WORK_PARENT}/pgdrill-verify-${runId}-XXXXXX`]);
  if (made.exitCode !== 0) throw new Error(`mktemp on the Barman host failed: ${made.stderr.trim()}`);
  const directory = made.stdout.trim();
  if (!/^\/var\/tmp\/pgdrill-verify-[A-Za-z0-9_-]+$/.test(directory)) throw new Error(`mktemp gave '${directory}', not a directory of this run`);
  const name = `pgdrill-${runId}-copy-${server.serverName}-${randomBytes(3).toString("hex")}`;
  try {
    let started = monotonicNow();
    await barman.recover({
      backupId: server.backupId,
      destination: `${directory}/${ISOLATED_PGDATA_NAME}`,
      target: { kind: "latest" },
      onLine: (line) => say(`  [${server.serverName} copy] barman recover: ${line}`),
    });
    const recoverMs = monotonicNow() - started;

    started = monotonicNow();
    const container = await docker().createContainer({
      name,
      Image: image,
      Labels: runLabels(runId),
      Cmd: ["true"],
      HostConfig: { NetworkMode: "none" },
    });
    const createMs = monotonicNow() - started;
    const tar = ["tar", "--totals", "-C", directory, "-cf", "-", ISOLATED_PGDATA_NAME];
    const load = await machineLoad(runId);
    const copy = await timedPipeline("the plain copy", `${sshCommand(host.ssh, tar)} | docker cp - ${shellQuote(`${container.id}:/var/tmp`)}`);
    const totals = /Total bytes written: (\d+)/.exec(copy.stderr);
    if (!totals) throw new Error(`tar --totals printed no total: ${copy.stderr.trim()}`);
    const bytes = Number(totals[1]);
    const source = await timedPipeline("ssh + tar alone", `${sshCommand(host.ssh, tar)} | wc -c`);
    await container.remove({ force: true, v: true });
    return {
      recoverMs,
      createMs,
      bytes,
      copyMs: copy.ms,
      copyMiBs: mibPerS(bytes, copy.ms),
      sourceOnlyMs: source.ms,
      sourceOnlyMiBs: mibPerS(Number(source.stdout.trim()), source.ms),
      load,
    };
  } finally {
    await docker()
      .getContainer(name)
      .remove({ force: true, v: true })
      .catch(() => undefined);
    const removed = await barman.transport.run(["rm", "-rf", "--", directory]).catch((error: Error) => error);
    if (removed instanceof Error || removed.exitCode !== 0)
      say(`${directory} could not be removed from the Barman host: ${removed instanceof Error ? removed.message : removed.stderr.trim()}`);
  }
}

// --- The verification, alone and together --------------------------------------------------------
/** What the report keeps of one server's verification (no transcript, no freshness). */
interface Measured {
  verdict: NightlyResult["verdict"];
  problems: string[];
  backupId: string | undefined;
  backupSizeBytes: number | undefined;
  phasesMs: NightlyPhasesMs;
  totalMs: number;
  transferredBytes: number | null;
  transferMiBs: number;
}
const measured = (r: NightlyResult): Measured => ({
  verdict: r.verdict,
  problems: r.problems,
  backupId: r.backupId,
  backupSizeBytes: r.backupSizeBytes,
  phasesMs: r.phasesMs,
  totalMs: r.totalMs,
  transferredBytes: r.transferredBytes,
  transferMiBs: mibPerS(r.transferredBytes, r.phasesMs.transferMs),
});

// --- main -----------------------------------------------------------------------------------------
const engine = await assertEngineAnswers();
const { images } = await ensureImages({ platform: DEFAULT_PLATFORM, baseOverride: settings.baseImage, progress: say });
const run: DrillRun = { runId: `bench-nightly-${randomBytes(3).toString("hex")}`, ownerPid: process.pid, images };
const labels = runLabels(run.runId, run.ownerPid);
let host: TwoServerBarmanHost | undefined;

/** Docker answers 409 while another removal of the same container is under way (the Barman host's own stop): asked again until done. */
async function reapRun(): Promise<ReapSummary> {
  return pollUntil({
    what: `run ${run.runId} removed (if not: ${manualCleanupCommands(run.runId).join("; ")})`,
    budget: budgetOf(settings, "containerRemoved"),
    probe: () => reap({ runId: run.runId }),
    done: () => true,
    intervalMs: 500,
  });
}

/**
 * Everything of this run: the pipelines, the Docker resources by this run's label (the Barman host is
 * one of them, and with it every directory made on it), and the SSH keys made for the fixture.
 */
async function removeEverything(): Promise<void> {
  killChildren();
  const removed = await reapRun();
  if (host?.ssh.identityFile && basename(dirname(host.ssh.identityFile)).startsWith("pgdrill-fleet-"))
    await rm(dirname(host.ssh.identityFile), { recursive: true, force: true });
  say(`removed run ${run.runId}: ${removed.containers.length} containers, ${removed.networks.length} networks, ${removed.volumes.length} volumes`);
}
let removing: Promise<void> | undefined;
const removeEverythingOnce = (): Promise<void> => (removing ??= removeEverything());

// Ctrl-C: remove the run now and exit. The measurement still running may create one more container
// after the removal listed them; a detached reaper (scripts/reap.ts, as the drill's Ctrl-C uses)
// removes the run's resources again once this process has exited.
const REAPER = fileURLToPath(new URL("../scripts/reap.ts", import.meta.url));
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.once(signal, () => {
    say(`${signal}: removing what run ${run.runId} started, then exiting`);
    spawn(
      process.execPath,
      ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", REAPER, "--run", run.runId, "--after-pid", String(process.pid)],
      { detached: true, stdio: "ignore" },
    ).unref();
    void removeEverythingOnce()
      .catch((error: Error) => say(error.message))
      .finally(() => process.exit(code));
  });
}

/** What else the machine did while we measured: sampled at every measurement's start and every LOAD_SAMPLE_MS in between. */
const LOAD_SAMPLE_MS = 10_000;
const loads: MachineLoad[] = [];
const sample = async (): Promise<MachineLoad> => {
  const l = await machineLoad(run.runId);
  loads.push(l);
  return l;
};
const sampler = setInterval(() => void sample().catch(() => undefined), LOAD_SAMPLE_MS);
sampler.unref();
try {
  const startLoad = await sample();
  say(`run ${run.runId}: ${ROWS.toLocaleString("en-US")} rows per server, ${RUNS} run(s); ${cpus().length} cores; ${describeLoad(startLoad)}`);
  host = await startTwoServerBarmanHost(run, settings, say, { rowsBeforeBackup: { "sales-pg15": ROWS, "billing-pg17": ROWS } });
  const fixture = host;
  say(`Barman host up in ${s(fixture.timingsMs.total)}, reached over SSH ${fixture.ssh.destination} port ${fixture.ssh.port}`);

  // Images resolved once (built on first use), so no measurement pays for it.
  const resolveImage = recoveryImageResolver({ override: settings.recoveryImage, baseOverride: settings.baseImage, progress: say });
  const imageOf = new Map<number, string>();
  for (const name of SERVERS) {
    const major = fixture.servers[name].major;
    imageOf.set(major, await resolveImage(major));
  }
  const recoveryImage = async (major: number): Promise<string> => imageOf.get(major) ?? resolveImage(major);
  const countCheck = (server: FleetServer) => ({
    name: `${server.table} rows at the end of the archive`,
    sql: server.countSql,
    expected: [[server.rows.atEndOfArchive]],
  });
  const common = { barman: { ssh: fixture.ssh }, backup: "latest", recoveryImage, runId: run.runId, labels, budgetsMs: settings.budgetsMs };

  const alone: Record<FleetServerName, Array<Measured & { load: MachineLoad }>> = { "sales-pg15": [], "billing-pg17": [] };
  const copies: Record<FleetServerName, PlainCopy[]> = { "sales-pg15": [], "billing-pg17": [] };
  const together: Array<{ wallMs: number; servers: Record<FleetServerName, Measured>; load: MachineLoad }> = [];
  for (let i = 1; i <= RUNS; i++) {
    for (const name of SERVERS) {
      const server = fixture.servers[name];
      const load = await sample();
      say(`run ${i}/${RUNS}: ${name} alone (${describeLoad(load)})`);
      const result = await verifyExistingBackup({
        ...common,
        server: name,
        checks: [countCheck(server)],
        database: server.database,
        progress: (line) => say(`  [${name} alone] ${line}`),
      });
      const m = measured(result);
      alone[name].push({ ...m, load });
      say(`  ${name} alone: ${result.verdict.toUpperCase()} in ${s(m.totalMs)}; transfer ${mib(m.transferredBytes ?? 0)} in ${s(m.phasesMs.transferMs)}`);
      say(`run ${i}/${RUNS}: ${name} plain copy of the same bytes`);
      const copy = await plainCopy(fixture, server, imageOf.get(server.major)!, run.runId);
      copies[name].push(copy);
      say(`  ${name} plain copy: ${mib(copy.bytes)} in ${s(copy.copyMs)} (${rate(copy.copyMiBs)}); ssh + tar alone ${rate(copy.sourceOnlyMiBs)}`);
    }
    const load = await sample();
    say(`run ${i}/${RUNS}: both servers together, concurrency 2 (${describeLoad(load)})`);
    const started = monotonicNow();
    const report = await verifyFleet({
      ...common,
      servers: SERVERS,
      concurrency: 2,
      planFor: (name) => {
        const server = fixture.servers[name as FleetServerName];
        return { checks: [countCheck(server)], database: server.database, builtInChecks: { amcheck: false, pgDump: false }, freshness: {} };
      },
      progress: (line, name) => say(`  [${name ?? "fleet"} together] ${line}`),
    });
    const wallMs = monotonicNow() - started;
    const byName = (name: FleetServerName): Measured => measured(report.servers.find((r) => r.server === name)!);
    together.push({ wallMs, servers: { "sales-pg15": byName("sales-pg15"), "billing-pg17": byName("billing-pg17") }, load });
    say(`  together: ${report.verdict.toUpperCase()} in ${s(wallMs)}`);
  }
  const left = await new SshTransport(fixture.ssh).run(["find", DEFAULT_WORK_PARENT, "-maxdepth", "1", "-name", "pgdrill-*"]);
  const leftOnBarman = left.stdout.split("\n").filter(Boolean);
  const endLoad = await sample();

  // --- Figures ------------------------------------------------------------------------------------
  const phaseRows: Array<[string, (m: Measured) => number | null]> = [
    ["backup verification", (m) => m.phasesMs.verifyBackupMs],
    ["barman recover", (m) => m.phasesMs.barmanRecoverMs],
    ["transfer", (m) => m.phasesMs.transferMs],
    ["instance start until promoted", (m) => m.phasesMs.instanceStartUntilPromotedMs],
    ["verification (count check)", (m) => m.phasesMs.verificationMs],
    ["total", (m) => m.totalMs],
  ];
  const med = (ms: Measured[], pick: (m: Measured) => number | null): number => median(ms.map((m) => pick(m) ?? Number.NaN));
  const togetherOf = (name: FleetServerName): Measured[] => together.map((t) => t.servers[name]);
  const transfer = Object.fromEntries(
    SERVERS.map((name) => {
      const nightly = med(alone[name], (m) => m.transferMiBs);
      const baseline = median(copies[name].map((c) => c.copyMiBs));
      const ratio = nightly / baseline;
      return [
        name,
        {
          nightlyMiBs: nightly,
          nightlyTogetherMiBs: med(togetherOf(name), (m) => m.transferMiBs),
          baselineMiBs: baseline,
          sourceOnlyMiBs: median(copies[name].map((c) => c.sourceOnlyMiBs)),
          ratio,
          met: ratio >= TRANSFER_RATIO_TARGET,
        },
      ];
    }),
  ) as Record<FleetServerName, { nightlyMiBs: number; nightlyTogetherMiBs: number; baselineMiBs: number; sourceOnlyMiBs: number; ratio: number; met: boolean }>;
  const aloneTotals = SERVERS.map((name) => ({ name, ms: med(alone[name], (m) => m.totalMs) }));
  const slower = aloneTotals.reduce((a, b) => (b.ms > a.ms ? b : a));
  const wallMs = median(together.map((t) => t.wallMs));
  const parallelRatio = wallMs / slower.ms;
  const verdicts = [...SERVERS.flatMap((n) => alone[n].map((m) => m.verdict)), ...together.flatMap((t) => SERVERS.map((n) => t.servers[n].verdict))];
  const machine = { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryBytes: totalmem(), docker: engine.version };
  clearInterval(sampler);
  const maxLoad = Math.max(...loads.map((l) => l.loadAverage[0]));
  const meanLoad = loads.reduce((sum, l) => sum + l.loadAverage[0], 0) / loads.length;
  const maxOthers = Math.max(...loads.map((l) => l.otherRunsContainers));

  const result = {
    schemaVersion: 1,
    measuredAt: new Date().toISOString(),
    machine,
    rowsPerServer: ROWS,
    runs: RUNS,
    fixtureMs: fixture.timingsMs,
    servers: Object.fromEntries(
      SERVERS.map((n) => [n, { backupId: fixture.servers[n].backupId, rows: fixture.servers[n].rows, postgresMajor: fixture.servers[n].major }]),
    ),
    alone,
    plainCopy: copies,
    together,
    targets: {
      transfer: { target: `>= ${TRANSFER_RATIO_TARGET}x the plain copy's MiB/s`, ...transfer },
      parallel: {
        target: `< ${PARALLEL_RATIO_TARGET}x the slower server alone`,
        wallMs,
        slowerAlone: slower.name,
        slowerAloneMs: slower.ms,
        ratio: parallelRatio,
        met: parallelRatio < PARALLEL_RATIO_TARGET,
      },
    },
    allPassed: verdicts.every((v) => v === "pass"),
    leftOnBarmanHost: leftOnBarman,
    load: loads,
  };
  await mkdir("reports", { recursive: true });
  await writeFile("reports/nightly-bench.json", `${JSON.stringify(result, null, 2)}\n`);

  const yes = (met: boolean): string => (met ? "met" : "MISSED");
  console.log(
    `\n## Nightly verification over SSH, ${ROWS.toLocaleString("en-US")} rows per server (median of ${RUNS}), ${machine.cpus} cores, Docker ${machine.docker}`,
  );
  console.log(
    `Load (1-min average, ${loads.length} samples): ${startLoad.loadAverage[0].toFixed(2)} at start, ${meanLoad.toFixed(2)} on average, ${maxLoad.toFixed(2)} at most, ${endLoad.loadAverage[0].toFixed(2)} at end; up to ${maxOthers} running container(s) of other runs on the engine (${loads.filter((l) => l.otherRunsContainers > 0).length} of ${loads.length} samples with some)`,
  );
  console.log(`\n| phase | ${SERVERS.map((n) => `${n} alone | ${n} together`).join(" | ")} |`);
  console.log(`|---|${SERVERS.map(() => "---|---|").join("")}`);
  for (const [label, pick] of phaseRows)
    console.log(`| ${label} | ${SERVERS.map((n) => `${s(med(alone[n], pick))} | ${s(med(togetherOf(n), pick))}`).join(" | ")} |`);
  const bytesOf = (ms: Measured[]): string => mib(median(ms.map((m) => m.transferredBytes ?? Number.NaN)));
  console.log(
    `| transferred | ${SERVERS.map((n) => `${bytesOf(alone[n])} at ${rate(transfer[n].nightlyMiBs)} | ${bytesOf(togetherOf(n))} at ${rate(transfer[n].nightlyTogetherMiBs)}`).join(" | ")} |`,
  );
  console.log(
    `| verdict | ${SERVERS.map(
      (n) =>
        `${alone[n].map((m) => m.verdict).join(", ")} | ${togetherOf(n)
          .map((m) => m.verdict)
          .join(", ")}`,
    ).join(" | ")} |`,
  );

  console.log(`\n| transfer vs plain copy | ${SERVERS.join(" | ")} |`);
  console.log(`|---|${SERVERS.map(() => "---|").join("")}`);
  const row = (label: string, cell: (n: FleetServerName) => string): void => console.log(`| ${label} | ${SERVERS.map(cell).join(" | ")} |`);
  row("verification's transfer (alone)", (n) => `${s(med(alone[n], (m) => m.phasesMs.transferMs))}, ${rate(transfer[n].nightlyMiBs)}`);
  row("plain copy: ssh tar \\| docker cp -", (n) => {
    const c = copies[n];
    return `${mib(median(c.map((x) => x.bytes)))} in ${s(median(c.map((x) => x.copyMs)))}, ${rate(transfer[n].baselineMiBs)}`;
  });
  row(`ratio (target >= ${TRANSFER_RATIO_TARGET}x)`, (n) => `${transfer[n].ratio.toFixed(2)}x: ${yes(transfer[n].met)}`);
  row("ssh tar \\| wc -c (sending side alone)", (n) => rate(transfer[n].sourceOnlyMiBs));
  row("container create (not in the plain copy)", (n) => s(median(copies[n].map((c) => c.createMs))));
  row("barman recover for the copy (over SSH)", (n) => s(median(copies[n].map((c) => c.recoverMs))));

  console.log(`\n| parallel | time |\n|---|---|`);
  for (const { name, ms } of aloneTotals) console.log(`| ${name} alone (total) | ${s(ms)} |`);
  console.log(`| both together, concurrency 2 (wall) | ${s(wallMs)} |`);
  console.log(
    `| ratio to the slower alone (${slower.name}; target < ${PARALLEL_RATIO_TARGET}x) | ${parallelRatio.toFixed(2)}x: ${yes(parallelRatio < PARALLEL_RATIO_TARGET)} |`,
  );
  console.log(
    `\nVerdicts: ${result.allPassed ? "every verification passed" : "NOT every verification passed (see reports/nightly-bench.json problems)"}. Left on the Barman host: ${leftOnBarman.length ? leftOnBarman.join(", ") : "nothing"}. Written: reports/nightly-bench.json`,
  );
} finally {
  clearInterval(sampler);
  // Interrupted: the signal's removal is under way, nothing to stop politely.
  if (!removing) await host?.stop().catch((error: Error) => say(`stopping the Barman host: ${error.message}`));
  await removeEverythingOnce().catch((error: Error) => say(error.message));
}
