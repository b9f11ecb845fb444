// How the Barman client reaches the Barman server: the transport interface, and `docker exec` into
// the container that runs Barman (a drill's, or an existing containerised server). SSH to a Barman
// host is the other transport (ssh-transport.ts).
import { Transform, type TransformCallback } from "node:stream";
import { type Budget, BudgetExceededError, budget, pollUntil, stoppedByTimeout, underTimeout } from "../../src/support/wait.ts";
import { docker } from "../docker-resources.ts";
import { type ExecResult, execIn } from "../exec.ts";

export type LineSink = (line: string) => void;

/** A command's stdout as a stream (a recovered data directory as tar), and how it ended. */
export interface CommandStream {
  stdout: NodeJS.ReadableStream & Transform;
  /** Waits for the command to exit; throws with its words when it failed. */
  finished(): Promise<void>;
  /** Stops reading, so the command ends on a broken pipe. */
  abort(): void;
}

/** How commands reach the Barman server. Runs never throw on a non-zero exit: the client decides. */
export interface BarmanTransport {
  /** Names the server in messages, e.g. "the Barman server (container pgdrill-x-barman)". */
  readonly where: string;
  run(argv: string[], options?: { user?: "barman" | "root"; onLine?: LineSink }): Promise<ExecResult>;
  stream(argv: string[], options?: { user?: "barman" | "root" }): Promise<CommandStream>;
}

/**
 * `docker exec` into the container that runs Barman. With `commandBudget`, every command runs
 * under `timeout` on the server itself, so a command that overruns ends there too instead of
 * writing on after we gave up (a client-side timer cannot kill a docker exec); exit 124/137 is that.
 */
export class DockerExecTransport implements BarmanTransport {
  constructor(
    readonly containerId: string,
    readonly containerName: string,
    private readonly options: { commandBudget?: Budget } = {},
  ) {}

  get where(): string {
    return `the Barman server (container ${this.containerName})`;
  }

  private bounded(argv: string[]): string[] {
    return this.options.commandBudget ? underTimeout(argv, this.options.commandBudget) : argv;
  }

  async run(argv: string[], options: { user?: "barman" | "root"; onLine?: LineSink } = {}): Promise<ExecResult> {
    const result = await execIn(this.containerId, this.bounded(argv), {
      user: options.user ?? "barman",
      where: this.where,
      allowFailure: true,
      onLine: options.onLine,
    });
    // The transcript names the command without the timeout wrapper: that is what a person reads.
    const named = { ...result, command: argv.join(" ") };
    if (this.options.commandBudget && stoppedByTimeout(result.exitCode)) {
      throw new BudgetExceededError(this.options.commandBudget, `\`${named.command}\``, `stopped on ${this.where}`);
    }
    return named;
  }

  async stream(argv: string[], options: { user?: "barman" | "root" } = {}): Promise<CommandStream> {
    const exec = await docker()
      .getContainer(this.containerId)
      .exec({ Cmd: this.bounded(argv), User: options.user ?? "barman", AttachStdout: true, AttachStderr: true });
    const socket = await exec.start({ hijack: true, stdin: false });
    const stdout = new ExecStdout();
    socket.pipe(stdout);
    socket.on("error", (error: Error) => stdout.destroy(error));
    const where = this.where;
    return {
      stdout,
      abort: () => socket.destroy(),
      async finished() {
        const state = await pollUntil({
          what: `\`${argv.join(" ")}\` on ${where} finished`,
          // The stream has ended; the exec's own exit follows at once, or something is wrong.
          budget: EXEC_EXIT_AFTER_STREAM,
          probe: () => exec.inspect(),
          done: (s) => !s.Running,
          describe: () => "still running",
          intervalMs: 50,
        });
        if (state.ExitCode !== 0)
          throw new Error(`\`${argv.join(" ")}\` failed on ${where} (exit ${state.ExitCode}): ${stdout.stderr.trim() || "(no output)"}`);
      },
    };
  }
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

/** A streamed exec whose output has ended reports its exit within this (it is the same process ending). */
const EXEC_EXIT_AFTER_STREAM = budget("execExitAfterStream", 60_000);
