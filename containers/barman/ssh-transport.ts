// The Barman server as production has it: a host reached over SSH. The OpenSSH client does the
// connecting, so the user's ~/.ssh/config, agent, ProxyJump and known_hosts apply; host keys are
// checked strictly (an unknown or changed key is refused, never accepted), and nothing asks for a
// password (BatchMode). Commands run as the SSH user (the barman user on the Barman host).
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { type Budget, BudgetExceededError, stoppedByTimeout, underTimeout } from "../../src/support/wait.ts";
import { type ExecResult, lineSplitter } from "../exec.ts";
import type { BarmanTransport, CommandStream, LineSink } from "./transport.ts";

export interface SshTarget {
  /** [user@]host, as on the ssh command line; a Host alias of ~/.ssh/config works too. */
  destination: string;
  port?: number;
  /** A private key file (-i), used alone (IdentitiesOnly). */
  identityFile?: string;
  /** A known_hosts file instead of ~/.ssh/known_hosts (UserKnownHostsFile). */
  knownHostsFile?: string;
  /** Seconds to wait for the connection (ConnectTimeout); default 10. */
  connectTimeoutS?: number;
}

const DESTINATION = /^([A-Za-z0-9._-]+@)?[A-Za-z0-9._:-]+$/;

/** Refuses what ssh would read as an option or a shell would split: one clear line each. */
export function validateSshTarget(target: SshTarget): string[] {
  const problems: string[] = [];
  if (!DESTINATION.test(target.destination) || target.destination.startsWith("-")) {
    problems.push(`'${target.destination}' is not an SSH destination such as barman@backup-host`);
  }
  if (target.port !== undefined && !(Number.isInteger(target.port) && target.port >= 1 && target.port <= 65535)) {
    problems.push(`SSH port ${target.port} is not a port number (1-65535)`);
  }
  for (const [what, file] of [
    ["identity file", target.identityFile],
    ["known_hosts file", target.knownHostsFile],
  ] as const) {
    if (file !== undefined && (file.startsWith("-") || /[\s'"]/.test(file))) problems.push(`${what} '${file}' must be a path without spaces or quotes`);
  }
  return problems;
}

/** One argument for the remote shell: single-quoted, a quote inside closed and escaped. */
export const shellQuote = (arg: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

/** The ssh command line for `remote` on the target (strict host keys, no prompts, keep-alives). */
export function sshArgv(target: SshTarget, remote: string[]): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `ConnectTimeout=${target.connectTimeoutS ?? 10}`,
    // A connection that dies (the host gone, a firewall dropping it) ends within 15 s instead of hanging.
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
    ...(target.port !== undefined ? ["-p", String(target.port)] : []),
    ...(target.identityFile ? ["-i", target.identityFile, "-o", "IdentitiesOnly=yes"] : []),
    ...(target.knownHostsFile ? ["-o", `UserKnownHostsFile=${target.knownHostsFile}`] : []),
    "--",
    target.destination,
    remote.map(shellQuote).join(" "),
  ];
}

/** ssh's own failure (exit 255), in words a DBA acts on; undefined when the remote command failed instead. */
export function explainSshFailure(target: SshTarget, exitCode: number, stderr: string): string | undefined {
  if (exitCode !== 255) return undefined;
  const where = `${target.destination}${target.port ? ` port ${target.port}` : ""}`;
  const said = stderr.trim().split("\n").slice(-3).join(" ").trim();
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(stderr)) {
    return `SSH to ${where} refused: the host key has CHANGED since it was recorded in known_hosts (a reinstalled host, or someone in between); verify the new key with the host's owner before replacing it (ssh-keygen -R)`;
  }
  if (/Host key verification failed|No .* host key is known/.test(stderr)) {
    return `SSH to ${where} refused: its host key is not in known_hosts (strict host key checking); add it after checking its fingerprint (ssh-keyscan, then compare with the host)`;
  }
  if (/Permission denied/.test(stderr)) return `SSH to ${where}: permission denied (wrong user or key): ${said}`;
  if (
    /Connection refused|Connection timed out|No route to host|Could not resolve hostname|Connection closed|closed by remote host|Broken pipe|Timeout/.test(
      stderr,
    )
  ) {
    return `SSH to ${where} failed: ${said}`;
  }
  return `SSH to ${where} failed (exit 255): ${said || "no message"}`;
}

export class SshConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SshConnectionError";
  }
}

/**
 * `barman` and the few other commands of a verification over SSH. With `commandBudget`, every
 * command runs under `timeout` on the server itself, as DockerExecTransport does, so a command
 * that overruns ends there too.
 */
export class SshTransport implements BarmanTransport {
  constructor(
    readonly target: SshTarget,
    /** `role` names the host in messages (default "the Barman server"; a verification host is another). */
    private readonly options: { commandBudget?: Budget; sshCommand?: string; role?: string } = {},
  ) {
    const problems = validateSshTarget(target);
    if (problems.length > 0) throw new SshConnectionError(problems.join("; "));
  }

  get where(): string {
    return `${this.options.role ?? "the Barman server"} (SSH ${this.target.destination}${this.target.port ? ` port ${this.target.port}` : ""})`;
  }

  private remote(argv: string[], user: "barman" | "root" | undefined): string[] {
    if (user === "root") throw new SshConnectionError(`\`${argv.join(" ")}\` would need root on ${this.where}; over SSH everything runs as the SSH user`);
    return this.options.commandBudget ? underTimeout(argv, this.options.commandBudget) : argv;
  }

  async run(argv: string[], options: { user?: "barman" | "root"; onLine?: LineSink } = {}): Promise<ExecResult> {
    const started = performance.now();
    const child = spawn(this.options.sshCommand ?? "ssh", sshArgv(this.target, this.remote(argv, options.user)), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const lines = options.onLine ? lineSplitter(options.onLine) : undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      lines?.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on("error", (error) => reject(new SshConnectionError(`cannot run ssh (the OpenSSH client): ${error.message}`)));
      child.on("close", (code, signal) => resolve(code ?? (signal ? 255 : 1)));
    });
    lines?.flush();
    const explained = explainSshFailure(this.target, exitCode, stderr);
    if (explained) throw new SshConnectionError(explained);
    const command = argv.join(" ");
    if (this.options.commandBudget && stoppedByTimeout(exitCode)) {
      throw new BudgetExceededError(this.options.commandBudget, `\`${command}\``, `stopped on ${this.where}`);
    }
    return { command, exitCode, stdout, stderr, durationMs: performance.now() - started };
  }

  async stream(argv: string[], options: { user?: "barman" | "root" } = {}): Promise<CommandStream> {
    const child = spawn(this.options.sshCommand ?? "ssh", sshArgv(this.target, this.remote(argv, options.user)), { stdio: ["ignore", "pipe", "pipe"] });
    const stdout = new PassThrough();
    child.stdout.pipe(stdout);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    const exited = new Promise<number>((resolve) => {
      child.on("error", () => resolve(255));
      child.on("close", (code, signal) => resolve(code ?? (signal ? 255 : 1)));
    });
    // A transfer cut by a dropped connection must not look like a short but complete archive.
    exited.then((code) => {
      if (code !== 0)
        stdout.destroy(
          new SshConnectionError(
            explainSshFailure(this.target, code, stderr) ?? `\`${argv.join(" ")}\` failed on ${this.where} (exit ${code}): ${stderr.trim()}`,
          ),
        );
    });
    const where = this.where;
    const target = this.target;
    return {
      stdout,
      abort: () => child.kill("SIGTERM"),
      async finished() {
        const code = await exited;
        if (code !== 0) {
          throw new SshConnectionError(
            explainSshFailure(target, code, stderr) ?? `\`${argv.join(" ")}\` failed on ${where} (exit ${code}): ${stderr.trim() || "(no output)"}`,
          );
        }
      },
    };
  }
}
