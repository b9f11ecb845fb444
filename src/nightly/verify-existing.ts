// Nightly verification of an EXISTING Barman server: no primary is created or contacted. The
// newest (or a named) backup of one server is checked with `barman verify-backup`, recovered with
// `barman recover` into a temporary directory on the Barman server, streamed out as a tar archive
// into a throwaway PostgreSQL container that has no network at all, and the user's checks run
// there. The Barman server only ever sees read-only barman commands, `barman recover` into our own
// temporary directory, `tar` of that directory and its removal (the transcript in the result lists
// every command). Transport: `docker exec` into a containerised Barman server (SSH is not
// implemented).
import { randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { GenericContainer, Wait, type StartedTestContainer } from "testcontainers";
import { z } from "zod";
import { docker } from "../../containers/docker-resources.ts";
import { execIn, type ExecResult } from "../../containers/exec.ts";
import { parseListBackup, parseShowBackup, recoverSucceeded, type BackupDetails } from "../barman-output.ts";
import type { DrillSettings } from "../config.ts";
import { monotonicNow, seconds } from "../metrics.ts";
import { readRecoveryLog } from "../recovery-log.ts";
import { barmanTargetArgs, describeTarget, type RecoveryTarget } from "../recovery-target.ts";
import { BudgetExceededError, pollUntil, withinBudget } from "../wait.ts";

/** Label on the throwaway instance, so a test or a person can find (and reap) exactly these. */
export const LABEL_ROLE = "io.pgdrill.role";
export const THROWAWAY_ROLE = "nightly-verification";

/** Where `barman recover` writes by default: a fresh directory per verification, removed afterwards. */
export const DEFAULT_WORK_PARENT = "/var/tmp";
const WORK_PREFIX = "pgdrill-verify-";
/** The data directory inside the work directory, and inside the throwaway container. */
const PGDATA_NAME = "pgdata";
const INSTANCE_HOME = "/var/lib/postgresql";
const HBA_FILE = "/etc/pgdrill/verify_hba.conf";

export interface NightlyCheck {
  name: string;
  sql: string;
  /** Rows the query must return, each row as the array of its column values (JSON types). */
  expected: unknown[][];
}

export interface VerifyExistingOptions {
  /** Name or id of the container that runs the existing Barman server. */
  barmanContainer: string;
  /** Barman's name for the PostgreSQL server (its section in barman.conf). */
  server: string;
  /** "latest": the newest DONE backup; otherwise a backup id such as 20261125T082625. */
  backup: "latest" | string;
  /** Default { kind: "immediate" }: the end of the backup, so the instance promotes without extra WAL. */
  target?: RecoveryTarget;
  checks: NightlyCheck[];
  /** Database the checks run in, on the recovered instance. */
  database: string;
  /** Role the checks run as (local trust on the throwaway instance; no password needed). Default "postgres". */
  dbUser?: string;
  /** Our PostgreSQL image (containers/images.ts), which must match the backup's major version. */
  image: string;
  /** Names the temporary directory and the throwaway container; letters, digits, - and _. */
  runId: string;
  /** Labels of the throwaway container (runLabels), for reaping. */
  labels: Record<string, string>;
  budgetsMs: DrillSettings["budgetsMs"];
  /** Parent of the temporary directory on the Barman server (default /var/tmp): needs room for one full copy. */
  workParent?: string;
  progress: (line: string) => void;
  /**
   * Stops at the next phase boundary (then cleans up as usual). A command already running on the
   * Barman server is let finish, since docker exec cannot stop it and it would write on into a
   * directory we removed.
   */
  signal?: AbortSignal;
}

/** Why a verification could not even be attempted: something the user named does not exist. */
export class NightlyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NightlyInputError";
  }
}

export type NightlyPhase = "backup selection" | "backup verification" | "barman recover" | "transfer" | "instance start" | "verification" | "clean-up";

export interface NightlyPhasesMs {
  /** Each phase on the monotonic clock; null when the run stopped before it. */
  verifyBackupMs: number | null;
  barmanRecoverMs: number | null;
  /** tar of the recovered directory on the Barman server into the throwaway container. */
  transferMs: number | null;
  instanceStartUntilPromotedMs: number | null;
  verificationMs: number | null;
}

export interface NightlyCheckResult {
  name: string;
  ok: boolean;
  expected: unknown[][];
  /** The rows the recovered instance returned; null when the query itself failed. */
  actual: unknown[][] | null;
  /** psql's words when the query failed. */
  error?: string;
  durationMs: number;
}

export interface NightlyResult {
  verdict: "pass" | "fail";
  barmanContainer: string;
  server: string;
  /** Resolved id (also for "latest"); undefined when no usable backup was found. */
  backupId: string | undefined;
  backupEndTime?: string;
  backupSizeBytes?: number;
  target: RecoveryTarget;
  /** The temporary directory on the Barman server (removed at the end; a problem says so if not). */
  workDirectory: string | undefined;
  phasesMs: NightlyPhasesMs;
  totalMs: number;
  checks: NightlyCheckResult[];
  /** One sentence per failure, naming the phase, the server, the backup and the server's own words. */
  problems: string[];
  /** The phase of the first problem: what to look at first. */
  failedPhase: NightlyPhase | undefined;
  /** Stopped early on request (options.signal): the failure says nothing about the backup. */
  interrupted: boolean;
  /** Every command run on the Barman server, with its exit code: the evidence of what we did there. */
  barmanCommands: Array<{ command: string; exitCode: number; durationMs: number }>;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A Barman server reached with `docker exec`: every command bounded by `timeout` on the server itself. */
class BarmanOverDockerExec {
  readonly transcript: NightlyResult["barmanCommands"] = [];

  constructor(
    readonly containerId: string,
    readonly containerName: string,
    private readonly budgetMs: number,
  ) {}

  get where(): string {
    return `the Barman server (container ${this.containerName})`;
  }

  /**
   * Runs argv as the barman user. `timeout` runs on the server, so a command that overruns the
   * budget ends there too instead of writing on after we gave up (a client-side timer cannot kill a
   * docker exec). Exit 124/137 is that timeout.
   */
  async run(argv: string[], what: string, options: { onLine?: (line: string) => void; user?: string } = {}): Promise<ExecResult> {
    const limitS = Math.max(1, Math.ceil(this.budgetMs / 1000));
    const result = await execIn(this.containerId, ["timeout", "--kill-after=10", String(limitS), ...argv], {
      user: options.user ?? "barman",
      where: this.where,
      allowFailure: true,
      onLine: options.onLine,
    });
    // The transcript names the command without the timeout wrapper: that is what a person reads.
    this.transcript.push({ command: argv.join(" "), exitCode: result.exitCode, durationMs: Math.round(result.durationMs) });
    if (result.exitCode === 124 || result.exitCode === 137) {
      throw new BudgetExceededError("recover", this.budgetMs, what, `\`${argv.join(" ")}\` was stopped on ${this.where}`);
    }
    return result;
  }

  barman(args: string[], what: string, onLine?: (line: string) => void): Promise<ExecResult> {
    return this.run(["barman", ...args], what, { onLine });
  }
}

const words = (result: ExecResult): string => (result.stdout + result.stderr).trim();

/** `barman -f json` prints {"_ERROR": ["Unknown server 'x'"]} on a failed lookup. */
function barmanJsonErrors(raw: string): string[] {
  try {
    const parsed = z.object({ _ERROR: z.array(z.string()) }).loose().safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data._ERROR : [];
  } catch {
    return [];
  }
}

/** The container by name or id; a missing container or one that runs no Barman is bad input. */
async function connectBarman(nameOrId: string, budgetMs: number): Promise<{ barman: BarmanOverDockerExec; running: boolean; status: string }> {
  if (!SAFE_NAME.test(nameOrId)) throw new NightlyInputError(`'${nameOrId}' is not a Docker container name or id`);
  const info = await docker()
    .getContainer(nameOrId)
    .inspect()
    .catch((error: { statusCode?: number; message: string }) => {
      if (error.statusCode === 404) throw new NightlyInputError(`no container named '${nameOrId}' on this Docker engine (docker ps -a lists the names)`);
      throw error;
    });
  const barman = new BarmanOverDockerExec(info.Id, info.Name.replace(/^\//, ""), budgetMs);
  return { barman, running: info.State.Running && !info.State.Paused, status: info.State.Status };
}

async function assertServerKnown(barman: BarmanOverDockerExec, server: string): Promise<void> {
  const result = await barman.barman(["-f", "json", "list-servers"], "barman list-servers");
  if (result.exitCode === 126 || result.exitCode === 127) {
    throw new NightlyInputError(`container ${barman.containerName} does not look like a Barman server (no barman user or command): ${words(result)}`);
  }
  let servers: string[];
  try {
    servers = Object.keys(z.record(z.string(), z.unknown()).parse(JSON.parse(result.stdout)));
  } catch {
    throw new NightlyInputError(`\`barman -f json list-servers\` on ${barman.where} did not answer with JSON (exit ${result.exitCode}): ${words(result)}`);
  }
  if (!servers.includes(server)) {
    throw new NightlyInputError(`Barman in container ${barman.containerName} has no server named '${server}'; its servers: ${servers.join(", ") || "(none)"}`);
  }
}

/** Barman backup ids are timestamps (YYYYMMDDTHHMMSS): the newest DONE one sorts last. */
async function selectBackup(barman: BarmanOverDockerExec, server: string, wanted: string): Promise<BackupDetails | string> {
  const list = await barman.barman(["-f", "json", "list-backup", server], "barman list-backup");
  if (list.exitCode !== 0) return `\`barman list-backup ${server}\` failed (exit ${list.exitCode}): ${words(list)}`;
  const backups = parseListBackup(list.stdout, server);
  let backupId: string;
  if (wanted === "latest") {
    const done = backups.filter((b) => b.status === "DONE").map((b) => b.backupId).sort();
    if (done.length === 0) {
      const others = backups.map((b) => `${b.backupId} ${b.status}`).join(", ");
      return `server '${server}' has no DONE backup to verify (${others ? `backups: ${others}` : "no backups at all"}); check \`barman check ${server}\` and the backup schedule`;
    }
    backupId = done.at(-1)!;
  } else {
    const entry = backups.find((b) => b.backupId === wanted);
    if (!entry) {
      const known = backups.map((b) => b.backupId).sort().slice(-5).join(", ");
      throw new NightlyInputError(`server '${server}' has no backup '${wanted}'; newest backups: ${known || "(none)"}`);
    }
    if (entry.status !== "DONE") return `backup ${wanted} of server '${server}' is ${entry.status}, not DONE: it cannot be recovered`;
    backupId = wanted;
  }
  const shown = await barman.barman(["-f", "json", "show-backup", server, backupId], "barman show-backup");
  if (shown.exitCode !== 0) return `\`barman show-backup ${server} ${backupId}\` failed (exit ${shown.exitCode}): ${barmanJsonErrors(shown.stdout).join("; ") || words(shown)}`;
  // barman recover puts tablespaces at their original paths (outside our temporary directory, so
  // neither the tar nor the clean-up would cover them) unless relocated: refuse rather than write there.
  const tablespaces = z.record(z.string(), z.object({ tablespaces: z.array(z.object({ name: z.string() }).loose()).nullish() }).loose()).safeParse(JSON.parse(shown.stdout));
  const names = tablespaces.success ? (tablespaces.data[server]?.tablespaces ?? []).map((t) => t.name) : [];
  if (names.length > 0) {
    throw new NightlyInputError(`backup ${backupId} of server '${server}' has tablespaces (${names.join(", ")}); this verification does not relocate tablespaces yet and would let barman recover write to their original paths on the Barman server`);
  }
  return parseShowBackup(shown.stdout, server);
}

/**
 * Splits Docker's multiplexed exec output (8-byte frame headers) into stdout, passed on with
 * back-pressure so a large backup streams through without being held in memory, and stderr, kept
 * for the error message. (dockerode's demuxStream ignores back-pressure and never ends its outputs.)
 */
class ExecStdout extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  stderr = "";

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      if (this.pending[0] === 2) this.stderr = (this.stderr + payload.toString("utf8")).slice(-4000);
      else this.push(payload);
      this.pending = this.pending.subarray(8 + size);
    }
    callback();
  }
}

interface TarStream {
  archive: ExecStdout;
  /** Waits for tar to exit; throws with tar's words when it failed. */
  finished(): Promise<void>;
  /** Stops reading (when the consumer failed), so tar ends on a broken pipe. */
  abort(): void;
}

async function streamDirectory(barman: BarmanOverDockerExec, workDirectory: string, budgetMs: number): Promise<TarStream> {
  // The archive holds one top-level directory, pgdata/, so it can be unpacked where PGDATA's parent already exists.
  const argv = ["tar", "-C", workDirectory, "-cf", "-", PGDATA_NAME];
  const limitS = String(Math.max(1, Math.ceil(budgetMs / 1000)));
  const exec = await docker()
    .getContainer(barman.containerId)
    .exec({ Cmd: ["timeout", "--kill-after=10", limitS, ...argv], User: "barman", AttachStdout: true, AttachStderr: true });
  const started = monotonicNow();
  const socket = await exec.start({ hijack: true, stdin: false });
  const archive = new ExecStdout();
  socket.pipe(archive);
  socket.on("error", (error: Error) => archive.destroy(error));
  return {
    archive,
    abort: () => socket.destroy(),
    async finished() {
      const state = await pollUntil({
        what: `\`${argv.join(" ")}\` on ${barman.where} finished`,
        budget: "recover",
        budgetMs,
        probe: () => exec.inspect(),
        done: (s) => !s.Running,
        describe: () => "tar still running",
        intervalMs: 50,
      });
      barman.transcript.push({ command: argv.join(" "), exitCode: state.ExitCode ?? -1, durationMs: Math.round(monotonicNow() - started) });
      if (state.ExitCode !== 0) {
        throw new Error(`\`${argv.join(" ")}\` failed on ${barman.where} (exit ${state.ExitCode}): ${archive.stderr.trim() || "(no output)"}`);
      }
    },
  };
}

/**
 * The throwaway instance. No network at all (network mode "none", no published port,
 * listen_addresses empty): we do not know production's passwords and the copy must not be
 * reachable, so the only way in is `docker exec` and the local socket, where our own hba file
 * trusts every role. `containerCreated` runs after the archive is unpacked and before the start:
 * the exact boundary between the transfer and the instance start.
 */
class ThrowawayInstanceContainer extends GenericContainer {
  log = "";

  constructor(
    image: string,
    options: { archive: ExecStdout; labels: Record<string, string>; startupTimeoutMs: number },
    private readonly onCreated: () => Promise<void>,
  ) {
    super(image);
    this.withNetworkMode("none")
      .withLabels(options.labels)
      .withEnvironment({ PGDATA: `${INSTANCE_HOME}/${PGDATA_NAME}` })
      .withCopyContentToContainer([
        { target: HBA_FILE, content: "# pgdrill nightly verification: local socket only, no network\nlocal all all trust\n", mode: 0o644 },
        // A server whose configuration lives outside PGDATA (Debian's /etc/postgresql layout) has a
        // backup without postgresql.conf; this empty one is unpacked first, so the backup's own
        // file, when there is one, replaces it.
        { target: `${INSTANCE_HOME}/${PGDATA_NAME}/postgresql.conf`, content: "# empty: the backup carried no postgresql.conf\n", mode: 0o600 },
      ])
      .withCopyArchivesToContainer([{ tar: options.archive, target: INSTANCE_HOME }])
      .withCommand([
        "postgres",
        // Never archive the copy's new timeline into the production Barman server.
        "-c", "archive_mode=off",
        "-c", "listen_addresses=",
        "-c", `hba_file=${HBA_FILE}`,
        "-c", "unix_socket_directories=/var/run/postgresql",
        // Production settings that would stop a copy from starting here or hide its log from us.
        "-c", "ssl=off",
        "-c", "logging_collector=off",
        "-c", "log_destination=stderr",
      ])
      // Promoted means "ready to accept connections" without "read-only" (cf. RecoveredInstanceContainer).
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections$/))
      .withStartupTimeout(options.startupTimeoutMs)
      .withLogConsumer((stream) => stream.on("data", (chunk: Buffer | string) => (this.log += chunk.toString())));
  }

  protected override async containerCreated(): Promise<void> {
    await this.onCreated();
  }
}

/** psql's output as JSON: each row the array of its values in column order. */
export function checkQuery(sql: string): string {
  const body = sql.trim().replace(/;\s*$/, "");
  // json_each on a json (not jsonb) row keeps every column in order, also duplicate names such as
  // two count(*), which an object would collapse; json_agg keeps the query's row order.
  return `SELECT coalesce(json_agg((SELECT json_agg(e.value ORDER BY e.n) FROM json_each(to_json(q)) WITH ORDINALITY AS e(key, value, n))), '[]') FROM (${body}\n) q`;
}

const emptyPhases = (): NightlyPhasesMs => ({ verifyBackupMs: null, barmanRecoverMs: null, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null });

export async function verifyExistingBackup(options: VerifyExistingOptions): Promise<NightlyResult> {
  const started = monotonicNow();
  const target = options.target ?? { kind: "immediate" };
  const dbUser = options.dbUser ?? "postgres";
  const workParent = options.workParent ?? DEFAULT_WORK_PARENT;
  const { progress, server, budgetsMs } = options;
  if (!/^[A-Za-z0-9_-]+$/.test(options.runId)) throw new NightlyInputError(`run id '${options.runId}' may only hold letters, digits, - and _`);
  if (!SAFE_NAME.test(server)) throw new NightlyInputError(`'${server}' is not a Barman server name`);
  if (!/^\/[A-Za-z0-9_.\/-]*$/.test(workParent) || workParent.includes("..")) throw new NightlyInputError(`work directory parent '${workParent}' must be an absolute path without ..`);
  if (options.checks.length === 0) throw new NightlyInputError("no checks given: a verification without checks proves nothing");
  barmanTargetArgs(target); // a target time without a UTC offset is refused here, before anything runs

  const { barman, running, status } = await connectBarman(options.barmanContainer, budgetsMs.recover);
  const phasesMs = emptyPhases();
  const problems: string[] = [];
  const checks: NightlyCheckResult[] = [];
  let backup: BackupDetails | undefined;
  let workDirectory: string | undefined;
  /** The phase under way, so that an unexpected error is still reported against it. */
  let current: NightlyPhase = "backup selection";
  let failedPhase: NightlyPhase | undefined;
  let wasInterrupted = false;

  const fail = (phase: NightlyPhase, what: string): void => {
    const which = backup ? `backup ${backup.backupId}` : `backup ${options.backup}`;
    failedPhase ??= phase;
    problems.push(`${phase} failed for ${which} of server '${server}', target ${describeTarget(target)}: ${what}`);
    progress(`FAILED in ${phase}: ${what.split("\n")[0]}`);
  };
  /** True (and the problem recorded) when the run was asked to stop before `phase`. */
  const interrupted = (phase: NightlyPhase): boolean => {
    if (!options.signal?.aborted) return false;
    wasInterrupted = true;
    fail(phase, `interrupted (${String(options.signal.reason ?? "aborted")}) before this phase; what ran so far has been cleaned up`);
    return true;
  };

  const run = async (): Promise<void> => {
    if (!running) return fail("backup selection", `the Barman container ${barman.containerName} is not running (state: ${status})`);
    await assertServerKnown(barman, server);
    const selected = await selectBackup(barman, server, options.backup);
    if (typeof selected === "string") return fail("backup selection", selected);
    backup = selected;
    progress(`backup ${backup.backupId} of ${server}: ended ${backup.endTime.toISOString()}, ${(backup.sizeBytes / 1048576).toFixed(1)} MiB`);

    // (b) pg_verifybackup against the manifest: read-only, and cheaper than a recovery that fails late.
    current = "backup verification";
    if (interrupted(current)) return;
    const t = monotonicNow();
    const verified = await barman.barman(["verify-backup", server, backup.backupId], "barman verify-backup");
    phasesMs.verifyBackupMs = monotonicNow() - t;
    if (verified.exitCode !== 0 || /\b(ERROR|error):/.test(words(verified))) {
      return fail("backup verification", `barman verify-backup says (exit ${verified.exitCode}):\n${words(verified)}`);
    }
    progress(`barman verify-backup: ${words(verified).split("\n").at(-1) ?? "ok"}`);

    // (c) A fresh directory of our own (mktemp: never an existing one), removed in every case below.
    current = "barman recover";
    if (interrupted(current)) return;
    const made = await barman.run(["mktemp", "-d", `${workParent}/${WORK_PREFIX}${options.runId}-XXXXXX`], "temporary directory");
    if (made.exitCode !== 0) return fail("barman recover", `could not create a temporary directory in ${workParent}: ${words(made)}`);
    workDirectory = made.stdout.trim();
    try {
      await recoverAndCheck(workDirectory);
    } finally {
      await removeWorkDirectory(barman, workDirectory).catch((error: Error) =>
        fail("clean-up", `${workDirectory} is still on ${barman.where}, remove it by hand (${error.message})`),
      );
    }
  };

  const recoverAndCheck = async (workDirectory: string): Promise<void> => {
    const destination = `${workDirectory}/${PGDATA_NAME}`;
    const args = ["recover", server, backup!.backupId, destination, ...barmanTargetArgs(target)];
    if (target.kind !== "latest") args.push("--target-action", "promote");
    progress(`barman ${args.join(" ")}`);
    let t = monotonicNow();
    const recovered = await barman.barman(args, "barman recover", (line) => progress(`  barman recover: ${line}`));
    phasesMs.barmanRecoverMs = monotonicNow() - t;
    if (recovered.exitCode !== 0 || !recoverSucceeded(words(recovered))) {
      return fail("barman recover", `barman recover says (exit ${recovered.exitCode}):\n${words(recovered)}`);
    }

    // (d) tar on the Barman server, unpacked by Docker into the throwaway container before it starts.
    if (interrupted("transfer")) return;
    const name = `pgdrill-${options.runId}-nightly-${randomBytes(3).toString("hex")}`;
    progress(`streaming ${destination} into throwaway container ${name}`);
    current = "transfer";
    t = monotonicNow();
    const tar = await streamDirectory(barman, workDirectory, budgetsMs.recover);
    let transferred = false;
    const container = new ThrowawayInstanceContainer(
      options.image,
      { archive: tar.archive, labels: { ...options.labels, [LABEL_ROLE]: THROWAWAY_ROLE }, startupTimeoutMs: budgetsMs.recoveredInstancePromoted },
      async () => {
        await tar.finished();
        phasesMs.transferMs = monotonicNow() - t;
        transferred = true;
        current = "instance start";
        t = monotonicNow();
      },
    ).withName(name);
    let instance: StartedTestContainer | undefined;
    try {
      try {
        instance = await container.start();
      } catch (error) {
        tar.abort();
        if (!transferred) return fail("transfer", `${destination} could not be copied into the throwaway instance: ${(error as Error).message}`);
        const log = readRecoveryLog(container.log);
        const said = log.fatalLines.length ? log.fatalLines.join("\n") : container.log.trim().split("\n").slice(-8).join("\n");
        return fail("instance start", `the recovered instance did not promote (${(error as Error).message}); PostgreSQL said:\n${said}`);
      }
      const inRecovery = await psql(instance.getId(), "template1", dbUser, "SELECT pg_is_in_recovery()", budgetsMs.sqlStatement);
      phasesMs.instanceStartUntilPromotedMs = monotonicNow() - t;
      const log = readRecoveryLog(container.log);
      if (inRecovery.exitCode !== 0 || inRecovery.stdout.trim() !== "f" || log.fatalLines.length > 0) {
        return fail("instance start", `the recovered instance ${inRecovery.stdout.trim() === "f" ? "promoted but logged" : "is not a promoted primary"}: ${[...log.fatalLines, words(inRecovery)].join("\n")}`);
      }
      progress(`instance promoted in ${seconds(phasesMs.instanceStartUntilPromotedMs)}`);

      // (f) The user's checks, one psql each, as JSON.
      current = "verification";
      if (interrupted(current)) return;
      t = monotonicNow();
      for (const check of options.checks) checks.push(await runCheck(instance.getId(), check));
      phasesMs.verificationMs = monotonicNow() - t;
      for (const c of checks.filter((c) => !c.ok)) {
        fail("verification", c.error ? `check '${c.name}' could not run: ${c.error}` : `check '${c.name}' returned ${JSON.stringify(c.actual)}, expected ${JSON.stringify(c.expected)}`);
      }
    } finally {
      // (g) Gone whatever happened: also a container that was created but never started.
      await instance?.stop({ remove: true, removeVolumes: true, timeout: 2_000 }).catch(() => undefined);
      await docker()
        .getContainer(name)
        .remove({ force: true, v: true })
        .catch((error: { statusCode?: number; message: string }) => {
          if (error.statusCode !== 404) fail("clean-up", `throwaway container ${name} could not be removed: ${error.message}`);
        });
    }
  };

  const runCheck = async (containerId: string, check: NightlyCheck): Promise<NightlyCheckResult> => {
    const t = monotonicNow();
    const result = await psql(containerId, options.database, dbUser, checkQuery(check.sql), budgetsMs.sqlStatement);
    const durationMs = monotonicNow() - t;
    if (result.exitCode !== 0) return { name: check.name, ok: false, expected: check.expected, actual: null, error: words(result), durationMs };
    let actual: unknown[][];
    try {
      actual = JSON.parse(result.stdout) as unknown[][];
    } catch {
      return { name: check.name, ok: false, expected: check.expected, actual: null, error: `psql printed something that is not JSON: ${result.stdout.slice(0, 500)}`, durationMs };
    }
    const ok = JSON.stringify(actual) === JSON.stringify(check.expected);
    progress(`check '${check.name}': ${ok ? "ok" : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(check.expected)}`}`);
    return { name: check.name, ok, expected: check.expected, actual, durationMs };
  };

  try {
    await run();
  } catch (error) {
    if (error instanceof NightlyInputError) throw error;
    // Anything unexpected still ends in a verdict a person can read, with the phase we were in.
    fail(current, (error as Error).message);
  }
  return {
    verdict: problems.length === 0 ? "pass" : "fail",
    barmanContainer: barman.containerName,
    server,
    backupId: backup?.backupId,
    backupEndTime: backup?.endTime.toISOString(),
    backupSizeBytes: backup?.sizeBytes,
    target,
    workDirectory,
    phasesMs,
    totalMs: monotonicNow() - started,
    checks,
    problems,
    failedPhase,
    interrupted: wasInterrupted,
    barmanCommands: barman.transcript,
  };
}

/** psql on the throwaway instance's socket; statement_timeout from the sqlStatement budget. */
async function psql(containerId: string, database: string, user: string, sql: string, budgetMs: number): Promise<ExecResult> {
  return withinBudget(`psql on the throwaway instance: ${sql.slice(0, 80)}`, "sqlStatement", budgetMs + 5_000, () =>
    execIn(containerId, ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", database, "-U", user, "-c", sql], {
      user: "postgres",
      where: "the throwaway instance",
      env: { PGOPTIONS: `-c statement_timeout=${budgetMs}` },
      allowFailure: true,
    }),
  );
}

/** Only ever a directory we made with mktemp: the pattern guards against removing anything else. */
async function removeWorkDirectory(barman: BarmanOverDockerExec, directory: string): Promise<void> {
  if (!new RegExp(`^/[A-Za-z0-9_./-]*/${WORK_PREFIX}[A-Za-z0-9_-]+$`).test(directory)) throw new Error(`refusing to remove '${directory}': not a verification directory`);
  const removed = await barman.run(["rm", "-rf", "--", directory], "removing the temporary directory");
  const left = await barman.run(["test", "-e", directory], "checking the temporary directory is gone");
  if (removed.exitCode !== 0 || left.exitCode === 0) throw new Error(`rm -rf exit ${removed.exitCode}: ${words(removed) || "directory still there"}`);
}

/**
 * For an interrupted run (SIGINT): removes this run's temporary directories from the Barman
 * server. A `barman recover` still running there ends at its `timeout`.
 */
export async function removeLeftoverWorkDirectories(barmanContainer: string, runId: string, workParent = DEFAULT_WORK_PARENT): Promise<string[]> {
  const { barman, running } = await connectBarman(barmanContainer, 60_000);
  if (!running) return [];
  const found = await barman.run(["find", workParent, "-maxdepth", "1", "-name", `${WORK_PREFIX}${runId}-*`], "finding leftover directories");
  const directories = found.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const directory of directories) await removeWorkDirectory(barman, directory);
  return directories;
}

const PHASE_LABELS: Array<[keyof NightlyPhasesMs, string]> = [
  ["verifyBackupMs", "backup verification"],
  ["barmanRecoverMs", "barman recover"],
  ["transferMs", "transfer to the throwaway instance"],
  ["instanceStartUntilPromotedMs", "instance start until promoted"],
  ["verificationMs", "verification (checks)"],
];

/** What a person reads in the morning: the verdict, what failed with expected vs actual, the timings. */
export function renderNightlySummary(result: NightlyResult): string {
  const pad = (label: string): string => `  ${label.padEnd(36, " ")}`;
  const backup = result.backupId
    ? `${result.backupId}${result.backupEndTime ? ` (ended ${result.backupEndTime}` : ""}${result.backupSizeBytes !== undefined ? `, ${(result.backupSizeBytes / 1048576).toFixed(1)} MiB)` : result.backupEndTime ? ")" : ""}`
    : "none resolved";
  const failed = result.checks.filter((c) => !c.ok);
  const lines = [
    `Nightly verification of Barman server '${result.server}' (container ${result.barmanContainer}): ${result.verdict.toUpperCase()}`,
    `Backup: ${backup}, recovered to ${describeTarget(result.target)}`,
    result.checks.length === 0
      ? "Checks: not run (the verification stopped before them)"
      : `Checks: ${result.checks.filter((c) => c.ok).length} of ${result.checks.length} passed`,
  ];
  for (const c of failed) {
    lines.push(c.error ? `  - ${c.name}: the query failed: ${c.error}` : `  - ${c.name}: expected ${JSON.stringify(c.expected)}, actual ${JSON.stringify(c.actual)}`);
  }
  if (result.problems.length > 0) {
    lines.push("Problems:");
    for (const p of result.problems) lines.push(`  - ${p.replaceAll("\n", "\n    ")}`);
  }
  lines.push("Phases (monotonic clock):");
  for (const [key, label] of PHASE_LABELS) {
    const ms = result.phasesMs[key];
    lines.push(`${pad(`${label}:`)}${ms === null ? "not reached" : seconds(ms)}`);
  }
  lines.push(`${pad("total:")}${seconds(result.totalMs)}`);
  if (result.verdict === "fail") lines.push(`Action: ${nextAction(result)}`);
  return lines.join("\n");
}

/** What a person does first, by the phase that failed first. */
function nextAction(result: NightlyResult): string {
  const server = result.server;
  if (result.interrupted) return "the run was interrupted, nothing was concluded about the backup; run it again.";
  switch (result.failedPhase) {
    case "backup selection":
      return `there is no usable backup to verify: look at \`barman check ${server}\` and \`barman list-backup ${server}\` and at the backup schedule.`;
    case "backup verification":
      return `the backup's files do not match its manifest: do not rely on this backup; take a new one (\`barman backup ${server}\`) and look at Barman's storage.`;
    case "barman recover":
      return "Barman could not restore this backup to this target (its words above): check the target against the backup's times, and Barman's disk space for the temporary copy.";
    case "transfer":
      return "the recovered copy could not be moved into the throwaway instance (words above): check the Docker engine and the disk space on both sides, then run again.";
    case "instance start":
      return `PostgreSQL could not recover the copy (its words above): check that the target lies inside the archived WAL (\`barman check ${server}\`, \`barman show-backup ${server} ${result.backupId ?? "ID"}\`) and that this image's PostgreSQL matches the backup's.`;
    case "verification":
      return result.checks.some((c) => !c.ok && !c.error)
        ? "the backup does not hold what the checks expect: compare with production and with the check's SQL before relying on this backup."
        : "a check's query failed on the recovered data (psql's words above): fix the check's SQL or find what is missing from the backup.";
    case "clean-up":
      return "the verification itself finished, but something it made is still there (named above): remove it by hand.";
    case undefined:
      return "see the problems above.";
  }
}
