// `npm run bench`: how fast the drill runs and how close `barman recover` comes to the disk's
// speed. Prints a table and writes reports/bench.json. A benchmark, not a test: it asserts nothing,
// it measures.
//
//   BENCH_RUNS=3                 drill repetitions (median reported)
//   BENCH_SCALES=60004,1000000   orders rows for the recovery-at-scale part (10000000 works, ~1 GB)
//   BENCH_JOBS=1,2               recover.jobs of the scale configuration (`barman recover --jobs`), one run each
//   BENCH_PAIRS=pg15-barman3.13  PostgreSQL/Barman pairs to measure, comma-separated (default: the default pair)
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, hostname, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { assertEngineAnswers, docker, reap } from "../containers/docker-resources.ts";
import { applyTestcontainersHost } from "../containers/engine-endpoint.ts";
import { ensureImages } from "../containers/images.ts";
import { DEFAULT_PLATFORM, describePlatform, type Platform, platformName, resolvePlatform } from "../containers/platforms.ts";
import { scenario12AtScale } from "../fixtures/scenario-12-at-scale.ts";
import { failedChecks } from "../src/asserts/check.ts";
import { recoveredStateChecks } from "../src/asserts/drill-asserts.ts";
import { segmentTimeline } from "../src/barman/barman-output.ts";
import { readSettings } from "../src/drill/config.ts";
import { applyConfigToSettings, type DrillConfig, loadDrillConfig } from "../src/drill/drill-config.ts";
import {
  archiveWalThroughDisaster,
  backUp,
  causeDisaster,
  type DrillPlan,
  doNormalWork,
  markGoodState,
  prepareTopology,
  resolvePlan,
  seed,
} from "../src/engine/phases.ts";
import { readRecoveredState, recoverToTarget, removeRecovery, startUntilPromoted, targetOf } from "../src/engine/recovery-phases.ts";
import type { DrillRun } from "../src/engine/topology.ts";
import { MIB, mebibytes, monotonicNow } from "../src/support/measure.ts";

// Where published ports are reached (containers/engine-endpoint.ts), as in vitest.config.ts.
applyTestcontainersHost(process.env);

const SCENARIO_12 = "fixtures/scenario-12.config.ts";
const scenario12 = await loadDrillConfig({ path: SCENARIO_12 });
const settings = applyConfigToSettings(readSettings(), scenario12.config);
const numbers = (name: string, fallback: number[]): number[] => {
  const raw = process.env[name];
  if (!raw) return fallback;
  const values = raw.split(",").map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    console.error(`${name}=${raw}: expected comma-separated positive whole numbers`);
    process.exit(2);
  }
  return values;
};
const RUNS = numbers("BENCH_RUNS", [3])[0]!;
const SCALES = numbers("BENCH_SCALES", [60_004, 1_000_000]);
const JOBS = numbers("BENCH_JOBS", [1, 2]);
const PAIRS: Platform[] = (() => {
  try {
    return process.env["BENCH_PAIRS"]?.split(",").map((name) => resolvePlatform({ platform: name.trim() }, {})) ?? [DEFAULT_PLATFORM];
  } catch (error) {
    console.error(`BENCH_PAIRS=${process.env["BENCH_PAIRS"]}: ${(error as Error).message}`);
    process.exit(2);
  }
})();
/** Barman 3.4 cannot recover a multi-segment disaster by time (README, Known limits). */
const canRecoverByTimeAtScale = (p: Platform): boolean => p.barman !== "3.4";
/** Incremental backups: PostgreSQL 17+ with Barman 3.11+. */
const canBackUpIncrementally = (p: Platform): boolean => Number(p.postgres) >= 17 && p.barman !== "3.4";
const say = (line: string): void => console.log(`[bench] ${line}`);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function timed<T>(phases: Record<string, number>, name: string, work: () => Promise<T>): Promise<T> {
  const started = monotonicNow();
  try {
    return await work();
  } finally {
    phases[name] = monotonicNow() - started;
  }
}

/** Memory of the environment's running containers, from the engine's own accounting. */
async function containersMemoryBytes(prefix: string): Promise<number> {
  const containers = await docker().listContainers({ filters: { name: [prefix] } });
  let total = 0;
  for (const c of containers) {
    const stats = (await docker().getContainer(c.Id).stats({ stream: false })) as { memory_stats?: { usage?: number; stats?: { cache?: number } } };
    total += (stats.memory_stats?.usage ?? 0) - (stats.memory_stats?.stats?.cache ?? 0);
  }
  return total;
}

/** A drill that fails to recover the right data has no speed worth printing. */
function assertRecovered(plan: DrillPlan, what: string, input: Parameters<typeof recoveredStateChecks>[0]): void {
  const wrong = failedChecks(recoveredStateChecks(input));
  if (wrong.length > 0) throw new Error(`${what} (${plan.name}): the recovered instance does not hold its target's state:\n${wrong.join("\n")}`);
}

// --- 1. The Scenario 12 drill, phase by phase, on the engine ------------------------------------
async function drillOnce(run: DrillRun, index: number, platform: Platform): Promise<Record<string, number>> {
  const plan = await resolvePlan(scenario12, { platform });
  const kind = plan.targets[0]!;
  const phases: Record<string, number> = {};
  const wall = monotonicNow();
  const env = await timed(phases, "containers up", () => prepareTopology(plan, { name: `bench-drill-${index}`, run, settings, progress: () => {} }));
  try {
    const { baseline } = await timed(phases, "seeding", () => seed(env, plan));
    const { backup } = await timed(phases, "backup", () => backUp(env));
    const { goodState, disaster } = await timed(phases, "normal work + restore point + disaster", async () => {
      await doNormalWork(env, plan);
      const good = await markGoodState(env, plan);
      return { goodState: good, disaster: await causeDisaster(env, plan) };
    });
    const { closedSegment } = await timed(phases, "WAL archived", () => archiveWalThroughDisaster(env));
    const target = targetOf(kind, { goodState, disaster });
    await timed(phases, "barman recover", () => recoverToTarget(env, { backupId: backup.backupId, target, directory: "pitr", jobs: plan.recoverJobs }));
    const promoted = await timed(phases, "start until promoted", () => startUntilPromoted(env, { backupId: backup.backupId, target, directory: "pitr" }));
    const state = await timed(phases, "verification", () => readRecoveredState(promoted.instance, plan));
    assertRecovered(plan, `bench drill ${index}`, {
      kind,
      plan,
      checkpoints: { baseline, goodState: goodState.snapshot, afterDisaster: disaster.snapshot },
      goodStateQueries: goodState.queries,
      state,
      primaryTimeline: segmentTimeline(closedSegment),
    });
  } finally {
    await timed(phases, "cleanup", () => env.stop());
  }
  phases["drill wall time"] = monotonicNow() - wall;
  return phases;
}

// --- 2. Recovery at scale -----------------------------------------------------------------------------
interface ScaleResult {
  orders: number;
  loadMs: number;
  backupMs: number;
  backupBytes: number;
  /** Base backup plus the WAL Barman copied, as written to the recovery volume. */
  recoveredBytes: number;
  /** cp -a of those same bytes on the same volume (last --jobs run). */
  plainCopyMs: number;
  recover: Array<{ jobs: number; ms: number; plainCopyMs: number; ratioToPlainCopy: number }>;
  walReplayBytes: number;
  walReplayMs: number;
  walReplayMbPerS: number;
  startUntilPromotedMs: number;
  verificationMs: number;
  containersMemoryBytes: number;
  barmanDiskBytes: number;
  /** `barman restore --target-time` of the disaster at scale and its start; null where the version cannot (3.4). */
  targetTime: { restoreMs: number; startUntilPromotedMs: number } | null;
  /** `barman restore` of an incremental backup (taken after the normal work) to the restore point; null before PostgreSQL 17. */
  incrementalRestoreMs: number | null;
}

/**
 * 10% of the orders touched after the backup so the recovery replays WAL. Barman 3.4 copies WAL
 * for a --target-time only up to the first segment archived after that time; the large DELETE
 * spans several segments, its commit would be missing and recovery would stop short (the drill
 * reports exactly that). The restore point has no such limit: the target is `name`.
 */
const scaleConfig = (orders: number, jobs: number): DrillConfig =>
  scenario12AtScale({ orders, normalWork: ["UPDATE orders SET amount = amount + 1 WHERE id % 10 = 0"], targets: ["name"], jobs });

async function scaleOnce(run: DrillRun, orders: number, platform: Platform): Promise<ScaleResult> {
  const incremental = canBackUpIncrementally(platform);
  const plans = (
    await Promise.all(JOBS.map((jobs) => resolvePlan({ config: scaleConfig(orders, jobs), path: fileURLToPath(import.meta.url) }, { platform })))
  ).map((p) =>
    incremental
      ? {
          ...p,
          primarySettings: { ...p.primarySettings, summarize_wal: "on" },
          barmanSettings: { ...p.barmanSettings, local_staging_path: "/var/lib/barman/staging" },
        }
      : p,
  );
  const plan = plans[0]!;
  const kind = plan.targets[0]!;
  const env = await prepareTopology(plan, { name: `bench-${orders}`, run, settings, progress: () => {} });
  try {
    const seeded = await seed(env, plan);
    say(`  ${orders.toLocaleString("en-US")} orders loaded in ${s(seeded.durationMs)}`);
    const { backup, durationMs: backupMs } = await backUp(env);
    say(`  backup ${backup.backupId}: ${mebibytes(backup.sizeBytes, 0)} MiB in ${s(backupMs)}`);
    await doNormalWork(env, plan);
    const incrementalBackup = incremental ? (await backUp(env, undefined, { incrementalFrom: backup.backupId })).backup : undefined;
    const goodState = await markGoodState(env, plan);
    const disaster = await causeDisaster(env, plan);
    const { closedSegment } = await archiveWalThroughDisaster(env);
    const target = targetOf(kind, { goodState, disaster });
    const server = `/var/lib/barman/${plan.serverName}`;
    // Warm page cache for every run, so barman recover and the plain copy read alike.
    await env.barman.shell(`tar -cf - ${server}/base/${backup.backupId} ${server}/wals > /dev/null`);
    const recover: ScaleResult["recover"] = [];
    let lastDirectory = "";
    let plainCopyMs = 0;
    for (const jobsPlan of plans) {
      const jobs = jobsPlan.recoverJobs;
      const directory = `recover-jobs-${jobs}`;
      if (lastDirectory) await env.recoveryDirectories.remove(lastDirectory);
      const started = monotonicNow();
      const copy = await recoverToTarget(env, { backupId: backup.backupId, target, directory, jobs });
      await env.barman.shell(`sync -f /recovery/${directory}`, { user: "root" });
      const ms = monotonicNow() - started;
      // The physical floor: the same bytes Barman just wrote (base backup + WAL), copied with cp
      // on the same volume, flushed the same way. (recoverToTarget also reads two small files.)
      const copyStarted = monotonicNow();
      await env.barman.shell(`cp -a /recovery/${copy.directory} /recovery/plain-copy && sync -f /recovery/plain-copy`, { user: "root" });
      const copyMs = monotonicNow() - copyStarted;
      await env.barman.shell("rm -rf /recovery/plain-copy", { user: "root" });
      plainCopyMs = copyMs;
      recover.push({ jobs, ms, plainCopyMs: copyMs, ratioToPlainCopy: ms / copyMs });
      say(`  barman recover --jobs ${jobs}: ${s(ms)}; plain copy of the same bytes ${s(copyMs)} (${(ms / copyMs).toFixed(2)}x)`);
      lastDirectory = directory;
    }

    let targetTime: ScaleResult["targetTime"] = null;
    if (canRecoverByTimeAtScale(platform)) {
      // The disaster's WAL spans several segments: a recovery by time must still reach the good state.
      const byTime = targetOf("time", { goodState, disaster });
      const copy = await recoverToTarget(env, { backupId: backup.backupId, target: byTime, directory: "by-time", jobs: plans.at(-1)!.recoverJobs });
      const started = await startUntilPromoted(env, { backupId: backup.backupId, target: byTime, directory: "by-time" });
      const state = await readRecoveredState(started.instance, plan);
      assertRecovered(plan, `scale ${orders} by time`, {
        kind: "time",
        plan,
        checkpoints: { baseline: seeded.baseline, goodState: goodState.snapshot, afterDisaster: disaster.snapshot },
        goodStateQueries: goodState.queries,
        state,
        primaryTimeline: segmentTimeline(closedSegment),
      });
      targetTime = { restoreMs: copy.durationMs, startUntilPromotedMs: started.durationMs };
      await removeRecovery(env, "by-time");
      say(`  --target-time: restore ${s(copy.durationMs)}, start until promoted ${s(started.durationMs)}`);
    }
    let incrementalRestoreMs: number | null = null;
    if (incrementalBackup) {
      // Restore time only: Barman 3.13.3 restores a chain without pg_wal (README, Platforms).
      const copy = await recoverToTarget(env, { backupId: incrementalBackup.backupId, target, directory: "incremental", jobs: plans.at(-1)!.recoverJobs });
      incrementalRestoreMs = copy.durationMs;
      await env.recoveryDirectories.remove("incremental");
      say(`  incremental backup ${mebibytes(incrementalBackup.sizeBytes, 0)} MiB: restore ${s(copy.durationMs)} (full backup: ${s(recover.at(-1)!.ms)})`);
    }
    const promoted = await startUntilPromoted(env, { backupId: backup.backupId, target, directory: lastDirectory });
    const log = promoted.instance.serverLog();
    const redoStart = /redo starts at ([0-9A-F]+\/[0-9A-F]+)/.exec(log)?.[1];
    const redoDone = /redo done at ([0-9A-F]+\/[0-9A-F]+) .*elapsed: ([\d.]+) s/.exec(log);
    const lsnBytes = (lsn: string): number => {
      const [hi, lo] = lsn.split("/").map((h) => parseInt(h, 16));
      return hi! * 2 ** 32 + lo!;
    };
    const walReplayBytes = redoStart && redoDone ? lsnBytes(redoDone[1]!) - lsnBytes(redoStart) : 0;
    const walReplayMs = redoDone ? Number(redoDone[2]) * 1000 : 0;
    const state = await readRecoveredState(promoted.instance, plan);
    assertRecovered(plan, `scale ${orders}`, {
      kind,
      plan,
      checkpoints: { baseline: seeded.baseline, goodState: goodState.snapshot, afterDisaster: disaster.snapshot },
      goodStateQueries: goodState.queries,
      state,
      primaryTimeline: segmentTimeline(closedSegment),
    });
    const recoveredBytes = Number(await env.barman.shell(`du -sb /recovery/${lastDirectory} | cut -f1`, { user: "root" }));
    const memory = await containersMemoryBytes(env.prefix);
    const barmanDiskBytes = Number(await env.barman.shell("du -sb /var/lib/barman | cut -f1"));
    return {
      orders,
      loadMs: seeded.durationMs,
      backupMs,
      backupBytes: backup.sizeBytes,
      recoveredBytes,
      plainCopyMs,
      recover,
      walReplayBytes,
      walReplayMs,
      walReplayMbPerS: walReplayMs > 0 ? walReplayBytes / MIB / (walReplayMs / 1000) : 0,
      startUntilPromotedMs: promoted.durationMs,
      verificationMs: state.durationMs,
      containersMemoryBytes: memory,
      barmanDiskBytes,
      targetTime,
      incrementalRestoreMs,
    };
  } finally {
    await env.stop();
  }
}

// --- main ---------------------------------------------------------------------------------------------
const engine = await assertEngineAnswers();
await reap();
const imagesStarted = monotonicNow();
const { images, built } = await ensureImages({ platform: DEFAULT_PLATFORM, baseOverride: settings.baseImage, progress: (l) => say(l) });
const imagesMs = monotonicNow() - imagesStarted;
const run: DrillRun = { runId: `bench-${randomBytes(3).toString("hex")}`, ownerPid: process.pid, images };
process.once("SIGINT", () => void reap({ runId: run.runId }).finally(() => process.exit(130)));

try {
  const machine = { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", memoryBytes: totalmem(), docker: engine.version };
  const pairs: Array<{
    platform: string;
    drill: { runs: number; medianMs: Record<string, number>; allRunsMs: Array<Record<string, number>> };
    scales: ScaleResult[];
  }> = [];
  for (const platform of PAIRS) {
    await ensureImages({ platform, baseOverride: settings.baseImage, progress: (l) => say(l) });
    say(`${describePlatform(platform)}: drill, ${RUNS} run(s) with cached images`);
    const drills: Array<Record<string, number>> = [];
    for (let i = 0; i < RUNS; i++) {
      drills.push(await drillOnce(run, i, platform));
      say(`  run ${i + 1}: ${s(drills[i]!["drill wall time"]!)}`);
    }
    const phaseNames = Object.keys(drills[0]!);
    const medianMs = Object.fromEntries(phaseNames.map((p) => [p, median(drills.map((d) => d[p]!))]));
    const scales: ScaleResult[] = [];
    for (const orders of SCALES) {
      say(`${describePlatform(platform)}: recovery at scale, ${orders.toLocaleString("en-US")} orders`);
      scales.push(await scaleOnce(run, orders, platform));
    }
    pairs.push({ platform: platformName(platform), drill: { runs: RUNS, medianMs, allRunsMs: drills }, scales });
  }

  const result = { schemaVersion: 2, measuredAt: new Date().toISOString(), machine, images: { built, ensureMs: imagesMs }, pairs };
  await mkdir("reports", { recursive: true });
  await writeFile("reports/bench.json", JSON.stringify(result, null, 2));

  for (const pair of pairs) {
    const { medianMs } = pair.drill;
    console.log(`\n## ${pair.platform}\n\nDrill (median of ${RUNS}, images cached), ${machine.cpus} cores, Docker ${machine.docker}`);
    console.log("| phase | median |\n|---|---|");
    for (const [p, ms] of Object.entries(medianMs)) console.log(`| ${p} | ${s(ms)} |`);
    console.log(`| recover + start + verification | ${s(medianMs["barman recover"]! + medianMs["start until promoted"]! + medianMs["verification"]!)} |`);
    console.log("\nRecovery at scale");
    console.log(
      "| orders | backup | recovered bytes | barman recover (--jobs: time, MB/s, vs plain copy) | WAL replay | start until promoted | verification | --target-time (restore / start) | incremental restore | memory | Barman disk |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of pair.scales) {
      const recovers = r.recover
        .map(
          (x) => `${x.jobs}: ${s(x.ms)}, ${(r.recoveredBytes / MIB / (x.ms / 1000)).toFixed(0)} MB/s, ${x.ratioToPlainCopy.toFixed(2)}x of ${s(x.plainCopyMs)}`,
        )
        .join("; ");
      const byTime = r.targetTime ? `${s(r.targetTime.restoreMs)} / ${s(r.targetTime.startUntilPromotedMs)}` : "not possible (Barman 3.4)";
      const incremental = r.incrementalRestoreMs === null ? "n/a (PostgreSQL < 17 or Barman 3.4)" : s(r.incrementalRestoreMs);
      console.log(
        `| ${r.orders.toLocaleString("en-US")} | ${mebibytes(r.backupBytes, 0)} MiB in ${s(r.backupMs)} | ${mebibytes(r.recoveredBytes, 0)} MiB | ${recovers} | ${mebibytes(r.walReplayBytes)} MiB in ${s(r.walReplayMs)} (${r.walReplayMbPerS.toFixed(0)} MB/s) | ${s(r.startUntilPromotedMs)} | ${s(r.verificationMs)} | ${byTime} | ${incremental} | ${mebibytes(r.containersMemoryBytes, 0)} MiB | ${mebibytes(r.barmanDiskBytes, 0)} MiB |`,
      );
    }
  }
  console.log(`\nImages: ${built.length ? `built ${built.length} in ${s(imagesMs)}` : `cached (checked in ${s(imagesMs)})`}. Written: reports/bench.json`);
} finally {
  await reap({ runId: run.runId });
}
