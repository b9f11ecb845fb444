import { z } from "zod";
import {
  archivedSegmentPath,
  type BackupDetails,
  type BackupListEntry,
  type CheckLine,
  newestArchivedSegment,
  parseBackupId,
  parseBaseBackupsDirectory,
  parseCheck,
  parseListBackup,
  parseShowBackup,
  parseWalsDirectory,
  parseXlogDbDirectory,
  recoverSucceeded,
  walSegmentRange,
} from "../../src/barman/barman-output.ts";
import { barmanTargetArgs, describeTarget, type RecoveryTarget } from "../../src/barman/recovery-target.ts";
import { type Budget, pollUntil } from "../../src/support/wait.ts";
import { CommandFailedError, type ExecResult, words } from "../exec.ts";
import type { BarmanTransport, LineSink } from "./transport.ts";

/** `barman -f json` prints {"_ERROR": ["Unknown server 'x'"]} on a failed lookup. */
export function barmanJsonErrors(raw: string): string[] {
  try {
    const parsed = z
      .object({ _ERROR: z.array(z.string()) })
      .loose()
      .safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data._ERROR : [];
  } catch {
    return [];
  }
}

/** Whether `barman --version`'s first line is at least major.minor. */
export function barmanAtLeast(versionLine: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(versionLine.trim());
  if (!match) throw new Error(`cannot read a Barman version from '${versionLine}'`);
  const [ma, mi] = [Number(match[1]), Number(match[2])];
  return ma > major || (ma === major && mi >= minor);
}

/** `restore` from Barman 3.12 on, `recover` before, from `barman --version`'s first line. */
export function barmanRestoreVerb(versionLine: string): "restore" | "recover" {
  return barmanAtLeast(versionLine, 3, 12) ? "restore" : "recover";
}

/**
 * Where a compressed (tar) backup is unpacked during a restore: `--recovery-staging-path` up to
 * Barman 3.14, `--staging-path` from 3.15 (release notes of 3.15.0).
 */
export function barmanStagingOption(versionLine: string): "--staging-path" | "--recovery-staging-path" {
  return barmanAtLeast(versionLine, 3, 15) ? "--staging-path" : "--recovery-staging-path";
}

/** Barman's own words when path_prefix and PATH hold no pg_verifybackup (backup.py, 3.4 to 3.20). */
const PG_VERIFYBACKUP_NOT_FOUND = /pg_verifybackup not found/;
/** Barman 3.20 on an encrypted backup (tests/unit/samples/real-hosts). */
const ENCRYPTED_NOT_VERIFIABLE = /[Bb]ackup verification is not supported for encrypted backups/;
/** pg_verifybackup 17 and older on a tar backup: the tar files themselves are "not in the manifest" (tests/unit/samples/real-hosts). */
const TAR_NOT_READ = /"(base|pg_wal|\d+)\.tar(\.\w+)?" is present on disk but not in the manifest/;

export interface BackupStorage {
  /** plain: a data directory; tar: pg_basebackup's base.tar[.gz|.lz4|.zst] and pg_wal.tar files. */
  format: "plain" | "tar";
  /** The tar files' compression (gzip, lz4, zstd), null when uncompressed or plain. */
  compression: string | null;
  /** A backup_manifest beside the files. */
  manifest: boolean;
}

/** What a backup's data directory listing says about how it is kept. */
export function backupStorageOf(entries: string[]): BackupStorage {
  const base = entries.find((e) => /^base\.tar(\.|$)/.test(e));
  const suffix = base ? /^base\.tar\.(\w+)$/.exec(base)?.[1] : undefined;
  const compression = suffix ? ({ gz: "gzip", lz4: "lz4", zst: "zstd", bz2: "bzip2" }[suffix] ?? suffix) : null;
  return { format: base && !entries.includes("PG_VERSION") ? "tar" : "plain", compression, manifest: entries.includes("backup_manifest") };
}

/** What the WAL check before a recovery found: every segment from the backup's start to the target. */
export interface WalCoverage {
  from: string;
  through: string;
  segmentsChecked: number;
  /** Segments absent from Barman's archive, empty or unreadable there. */
  missing: string[];
}

/** WAL segment names per command of walCoverage: 20,000 names are ~500 KB of arguments (320 GB of WAL). */
export const WAL_COVERAGE_BATCH = 20_000;

export class BarmanClient {
  /** Every barman command run, with its output: evidence for the report when something fails. */
  readonly transcript: ExecResult[] = [];
  private showServerOutput: string | undefined;

  constructor(
    readonly transport: BarmanTransport,
    readonly serverName: string,
  ) {}

  get where(): string {
    return this.transport.where;
  }

  /** `barman ARGS` as the barman user; throws with Barman's own words on a non-zero exit unless allowFailure. */
  async command(args: string[], options: { onLine?: LineSink; allowFailure?: boolean } = {}): Promise<ExecResult> {
    const result = await this.transport.run(["barman", ...args], { onLine: options.onLine });
    this.transcript.push(result);
    if (result.exitCode !== 0 && !options.allowFailure) throw new CommandFailedError(this.where, result);
    return result;
  }

  /** A shell script on the Barman server (inspection, clean-up, fault injection); returns stdout. */
  async shell(script: string, options: { user?: "barman" | "root"; allowFailure?: boolean } = {}): Promise<string> {
    const result = await this.transport.run(["bash", "-c", script], { user: options.user });
    if (result.exitCode !== 0 && !options.allowFailure) throw new CommandFailedError(this.where, result);
    return result.stdout.trim();
  }

  private versionLine: string | undefined;

  /** `barman --version`'s first line, e.g. "3.13.3 Barman by EnterpriseDB (www.enterprisedb.com)". */
  async version(): Promise<string> {
    this.versionLine ??= (await this.command(["--version"])).stdout.split("\n")[0]!.trim();
    return this.versionLine;
  }

  /** Barman renamed `recover` to `restore` in 3.12 (the old name stays an alias): speak each version's word. */
  async restoreVerb(): Promise<"restore" | "recover"> {
    return barmanRestoreVerb(await this.version());
  }

  async listServers(): Promise<string[]> {
    const result = await this.command(["-f", "json", "list-servers"], { allowFailure: true });
    try {
      return Object.keys(z.record(z.string(), z.unknown()).parse(JSON.parse(result.stdout))).filter((k) => !k.startsWith("_"));
    } catch {
      throw new Error(`\`barman -f json list-servers\` on ${this.where} did not answer with JSON (exit ${result.exitCode}): ${words(result)}`);
    }
  }

  async check(): Promise<CheckLine[]> {
    // `barman check` exits 1 when a check fails; the lines are what we want either way.
    const result = await this.command(["-f", "json", "check", this.serverName], { allowFailure: true });
    return parseCheck(result.stdout, this.serverName);
  }

  /**
   * `barman cron` starts receive-wal (pg_receivewal on the slot, created by create_slot = auto);
   * then wait until Barman reports the slot and the streaming process as OK.
   */
  async startWalStreaming(limit: Budget): Promise<void> {
    await this.command(["cron"]);
    await pollUntil({
      what: `Barman WAL streaming from ${this.serverName} (receive-wal running, replication slot active)`,
      budget: limit,
      probe: () => this.check(),
      done: (lines) => ["receive wal running", "replication slot", "postgresql streaming"].every((c) => lines.find((l) => l.check === c)?.ok),
      describe: (lines) =>
        lines
          .filter((l) => !l.ok)
          .map((l) => `${l.check}: FAILED ${l.hint}`)
          .join("; "),
      intervalMs: 200,
    });
  }

  /**
   * receive-wal stopped and started again by `barman cron`: Barman decides whether pg_receivewal
   * runs --synchronous when it starts it (its name in synchronous_standby_names).
   */
  async restartWalStreaming(limit: Budget): Promise<void> {
    await this.command(["receive-wal", "--stop", this.serverName], { allowFailure: true });
    await this.startWalStreaming(limit);
  }

  /**
   * Streaming from a new primary after a switchover, as Barman's receive-wal documents it: the
   * replication slot created on the new server, the streaming position reset to the new server's
   * (the old timeline's .partial marker removed: its WAL is in the new primary's timeline), then
   * receive-wal started again. Returns Barman's words.
   */
  async followNewPrimaryStreaming(limit: Budget): Promise<string> {
    const outputs: string[] = [];
    for (const args of [
      ["receive-wal", "--stop", this.serverName],
      ["receive-wal", "--create-slot", this.serverName],
      ["receive-wal", "--reset", this.serverName],
    ]) {
      const result = await this.command(args, { allowFailure: args[1] === "--stop" });
      outputs.push(`$ barman ${args.join(" ")}\n${words(result)}`);
    }
    await this.startWalStreaming(limit);
    return outputs.join("\n");
  }

  private async showServer(): Promise<string> {
    this.showServerOutput ??= (await this.command(["-f", "json", "show-server", this.serverName])).stdout;
    return this.showServerOutput;
  }

  private async walsDir(): Promise<string> {
    return parseWalsDirectory(await this.showServer(), this.serverName);
  }

  /**
   * The newest segment in this server's WAL archive and when Barman archived it, read from its
   * catalogue (xlog.db; named <server>-xlog.db since 3.12): Barman's own record, no PostgreSQL
   * needed. undefined for an empty archive.
   */
  async newestArchivedWal(): Promise<{ segment: string; archivedAt: Date } | undefined> {
    const directory = parseXlogDbDirectory(await this.showServer(), this.serverName);
    // Read-only, one plain command per name a Barman version uses (no shell on the Barman host).
    const files = [`${directory}/${this.serverName}-xlog.db`, `${directory}/xlog.db`];
    const read = async (file: string): Promise<ExecResult> => {
      const result = await this.transport.run(["tail", "-n", "200", file]);
      this.transcript.push(result);
      return result;
    };
    let result = await read(files[0]!);
    if (result.exitCode !== 0) result = await read(files[1]!);
    if (result.exitCode !== 0) throw new CommandFailedError(this.where, result);
    return newestArchivedSegment(result.stdout);
  }

  /**
   * Whether the backup has a backup_manifest, which pg_verifybackup (barman verify-backup) needs:
   * backup_method = postgres (pg_basebackup) writes one, rsync does not.
   */
  async backupHasManifest(backupId: string): Promise<boolean> {
    return (await this.transport.run(["test", "-f", `${await this.backupDataDirectory(backupId)}/backup_manifest`])).exitCode === 0;
  }

  /** Whether the backup's files are still in Barman's storage (a catalogue entry can outlive them). */
  async backupDataExists(backupId: string): Promise<boolean> {
    return (await this.transport.run(["test", "-d", await this.backupDataDirectory(backupId)])).exitCode === 0;
  }

  private async backupDataDirectory(backupId: string): Promise<string> {
    return `${parseBaseBackupsDirectory(await this.showServer(), this.serverName)}/${backupId}/data`;
  }

  /**
   * Waits until `segment` is in Barman's WAL archive. archive-wal moves completed segments from
   * the streaming and incoming directories into the archive; each probe runs it, then looks for the file.
   */
  /** The size of a file in this server's WAL archive (a segment or a history file), or undefined when it is not there. */
  async archivedFileBytes(name: string): Promise<number | undefined> {
    const path = archivedSegmentPath(await this.walsDir(), name);
    const result = await this.transport.run(["stat", "-c", "%s", path]);
    return result.exitCode === 0 ? Number(result.stdout.trim()) : undefined;
  }

  async waitForArchivedSegment(segment: string, limit: Budget): Promise<void> {
    const path = archivedSegmentPath(await this.walsDir(), segment);
    await pollUntil({
      what: `WAL segment ${segment} archived by Barman (${path})`,
      budget: limit,
      probe: async () => (await this.transport.run(["bash", "-c", `barman archive-wal ${this.serverName} >/dev/null && test -f ${path}`])).exitCode === 0,
      done: (archived) => archived,
      describe: () => "not in the archive yet",
    }).catch(async (error: Error) => {
      // Say why, in Barman's words: its log holds the archiver's errors (e.g. a missing compressor).
      const log = await this.barmanLog().catch(() => "");
      const errors = log
        .split("\n")
        .filter((line) => /ERROR|Exception|err'/.test(line))
        .slice(-5);
      throw new Error(`${error.message}${errors.length ? `\nBarman's log:\n${errors.join("\n")}` : ""}`);
    });
  }

  /**
   * Every WAL segment from `from` through `through` (one timeline) present, non-empty and readable
   * in Barman's archive: what a recovery to a target after `through` will ask for.
   */
  async walCoverage(from: string, through: string): Promise<WalCoverage> {
    const wals = await this.walsDir();
    const segments = walSegmentRange(from, through);
    const missing: string[] = [];
    // The names travel in the command line: in batches that stay far below the kernel's limit on
    // arguments (2 MiB), so that a week of WAL after one backup is still one command or a few.
    for (let start = 0; start < segments.length; start += WAL_COVERAGE_BATCH) {
      const batch = segments.slice(start, start + WAL_COVERAGE_BATCH);
      const script = `for s in ${batch.join(" ")}; do f="${wals}/\${s:0:16}/$s"; [ -r "$f" ] && [ -s "$f" ] || echo "$s"; done`;
      // Kept in the transcript: the evidence of what was read on the Barman server.
      const result = await this.transport.run(["bash", "-c", script]);
      this.transcript.push({ ...result, command: `bash -c <every WAL segment ${batch[0]} .. ${batch.at(-1)} readable in ${wals}>` });
      if (result.exitCode !== 0) throw new CommandFailedError(this.where, result);
      missing.push(...result.stdout.split("\n").filter(Boolean));
    }
    return { from, through, segmentsChecked: segments.length, missing };
  }

  /** `barman backup --wait`: returns once the backup and the WAL it needs are in Barman. */
  /** `incrementalFrom`: a PostgreSQL 17+ incremental backup on top of that one (Barman 3.11+, summarize_wal = on). */
  async backup(options: { budgetMs: number; onLine?: LineSink; incrementalFrom?: string }): Promise<{ backupId: string; output: string }> {
    const waitS = Math.max(1, Math.floor(options.budgetMs / 1000));
    const incremental = options.incrementalFrom ? ["--incremental", options.incrementalFrom] : [];
    const result = await this.command(["backup", "--wait", "--wait-timeout", String(waitS), ...incremental, this.serverName], { onLine: options.onLine });
    const output = result.stdout + result.stderr;
    return { backupId: parseBackupId(output), output };
  }

  async listBackups(): Promise<BackupListEntry[]> {
    return parseListBackup((await this.command(["-f", "json", "list-backup", this.serverName])).stdout, this.serverName);
  }

  /** `barman show-backup`; Barman's own words (e.g. an unknown server) when it fails. */
  async showBackup(backupId: string): Promise<BackupDetails> {
    const result = await this.command(["-f", "json", "show-backup", this.serverName, backupId], { allowFailure: true });
    if (result.exitCode !== 0) {
      throw new Error(
        `\`barman show-backup ${this.serverName} ${backupId}\` failed (exit ${result.exitCode}): ${barmanJsonErrors(result.stdout).join("; ") || words(result)}`,
      );
    }
    return parseShowBackup(result.stdout, this.serverName);
  }

  /** Names of the backup's tablespaces (show-backup JSON); a recovery writes them outside its directory. */
  async backupTablespaces(backupId: string): Promise<string[]> {
    const shown = await this.command(["-f", "json", "show-backup", this.serverName, backupId]);
    const parsed = z
      .record(z.string(), z.object({ tablespaces: z.array(z.object({ name: z.string() }).loose()).nullish() }).loose())
      .safeParse(JSON.parse(shown.stdout));
    return parsed.success ? (parsed.data[this.serverName]?.tablespaces ?? []).map((t) => t.name) : [];
  }

  /**
   * `barman verify-backup`, its words classified: only pg_verifybackup's own complaint is damage;
   * Barman not finding pg_verifybackup (Debian keeps it in /usr/lib/postgresql/<major>/bin, which
   * Barman searches only through path_prefix) says nothing about the backup, nor does a tar
   * backup that pg_verifybackup before 18 cannot read ("format") or an encrypted one, which
   * Barman 3.20 refuses to verify ("encrypted"). Call it for a backup with a manifest (see
   * backupStorage).
   */
  async verifyBackupOutcome(
    backupId: string,
  ): Promise<{ outcome: "verified" | "damaged" | "tool missing" | "format" | "encrypted"; said: string; exitCode: number }> {
    const result = await this.command(["verify-backup", this.serverName, backupId], { allowFailure: true });
    const said = words(result);
    if (PG_VERIFYBACKUP_NOT_FOUND.test(said)) return { outcome: "tool missing", said: PG_VERIFYBACKUP_NOT_FOUND.exec(said)![0], exitCode: result.exitCode };
    // Barman 3.14+ refuses to verify what it encrypted; pg_verifybackup before 18 reads no tar
    // backup (it reports the tar files as extra and every file in them as missing): no verdict.
    const encrypted = ENCRYPTED_NOT_VERIFIABLE.exec(said);
    if (encrypted) return { outcome: "encrypted", said: encrypted[0], exitCode: result.exitCode };
    const tar = TAR_NOT_READ.exec(said);
    if (tar) return { outcome: "format", said: tar[0], exitCode: result.exitCode };
    const damaged = result.exitCode !== 0 || /\b(ERROR|error):/.test(said);
    return { outcome: damaged ? "damaged" : "verified", said, exitCode: result.exitCode };
  }

  /**
   * Where Debian's PostgreSQL client packages put pg_verifybackup on the Barman host
   * (/usr/lib/postgresql/<major>/bin, no wrapper on PATH), newest major last: what path_prefix
   * should name when Barman did not find it. Read-only; empty when none is installed.
   */
  async installedPgVerifybackup(): Promise<string[]> {
    const found = await this.transport.run(["bash", "-c", "ls -1d /usr/lib/postgresql/*/bin/pg_verifybackup 2>/dev/null | sort -V"]);
    this.transcript.push(found);
    return found.stdout.split("\n").filter(Boolean);
  }

  /**
   * How the backup is kept in Barman's storage: a plain data directory (rsync, or postgres without
   * backup_compression) or pg_basebackup's tar files (backup_compression), and whether a
   * backup_manifest is there (pg_basebackup writes one; rsync only with generate-manifest or
   * autogenerate_manifest). Read-only: one listing of the backup's data directory.
   */
  async backupStorage(backupId: string): Promise<BackupStorage> {
    const directory = await this.backupDataDirectory(backupId);
    const listed = await this.transport.run(["ls", "-1A", "--", directory]);
    this.transcript.push(listed);
    if (listed.exitCode !== 0) throw new CommandFailedError(this.where, listed);
    return backupStorageOf(
      listed.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }

  /**
   * `barman restore` (`recover` before 3.12) into `destination` on the Barman server, with the
   * target and `--target-action promote`. `getWal`: the recovered instance fetches WAL from Barman
   * during replay (`--get-wal`) instead of a copy made now.
   */
  async recover(options: {
    backupId: string;
    destination: string;
    target: RecoveryTarget;
    jobs?: number;
    getWal?: boolean;
    /** Barman's --remote-ssh-command: the restore goes to another host (e.g. "ssh postgres@verify-host"), by rsync over that SSH. */
    remoteSshCommand?: string;
    /** Where a compressed (tar) backup is unpacked first, on the host restored to: each version's own option. */
    stagingPath?: string;
    onLine?: LineSink;
  }): Promise<string> {
    const args = [await this.restoreVerb(), this.serverName, options.backupId, options.destination, ...barmanTargetArgs(options.target)];
    if (options.stagingPath) args.push(barmanStagingOption(await this.version()), options.stagingPath);
    if (options.getWal) args.push("--get-wal");
    if (options.remoteSshCommand) args.push("--remote-ssh-command", options.remoteSshCommand);
    if (options.target.kind !== "latest") args.push("--target-action", "promote");
    if (options.jobs !== undefined && options.jobs > 1) args.push("--jobs", String(options.jobs));
    const result = await this.command(args, { onLine: options.onLine, allowFailure: true });
    const output = words(result);
    if (result.exitCode !== 0 || !recoverSucceeded(output)) {
      throw new Error(`barman ${args[0]} of backup ${options.backupId} to ${describeTarget(options.target)} failed (exit ${result.exitCode}):\n${output}`);
    }
    return output;
  }

  /** Barman's own log file, for the report when a step fails. */
  async barmanLog(): Promise<string> {
    return (await this.transport.run(["tail", "-n", "200", "/var/log/barman/barman.log"])).stdout;
  }

  /** The transcript as a person reads it. */
  renderTranscript(): string {
    return this.transcript.map((r) => `$ ${r.command}  (exit ${r.exitCode}, ${r.durationMs.toFixed(0)} ms)\n${r.stdout}${r.stderr}`).join("\n");
  }
}
