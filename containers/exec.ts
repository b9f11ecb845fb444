// `docker exec` with streamed output (dockerode): long commands such as `barman recover` show
// their progress line by line, and a failure carries the command's own words.
import { PassThrough } from "node:stream";
import { docker } from "./docker-resources.ts";

export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** What a command said, stdout then stderr, trimmed: the words a failure message quotes. */
export const words = (result: ExecResult): string => (result.stdout + result.stderr).trim();

export class CommandFailedError extends Error {
  constructor(
    readonly where: string,
    readonly result: ExecResult,
  ) {
    const words = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-15).join("\n");
    super(`\`${result.command}\` failed on ${where} (exit ${result.exitCode} after ${(result.durationMs / 1000).toFixed(1)} s):\n${words}`);
    this.name = "CommandFailedError";
  }
}

export interface ExecOptions {
  user?: string;
  env?: Record<string, string>;
  /** Called with every output line as it arrives (progress for people watching). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Name of the container's role, for error messages. */
  where: string;
}

/** Splits streamed output into lines for `onLine`; flush() hands on the last, unterminated one. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer) => void; flush: () => void } {
  let pending = "";
  return {
    push(chunk) {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    },
    flush() {
      if (pending) onLine(pending);
      pending = "";
    },
  };
}

export async function execIn(containerId: string, argv: string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const exec = await docker()
    .getContainer(containerId)
    .exec({
      Cmd: argv,
      User: options.user ?? "",
      Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
      AttachStdout: true,
      AttachStderr: true,
    })
    .catch((error: { statusCode?: number; message: string }) => {
      // 409: Docker's way of saying the container is stopped (or paused).
      if (error.statusCode === 409) throw new Error(`${options.where} is not running, cannot run \`${argv.join(" ")}\`: ${error.message}`);
      throw error;
    });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const splitters = {
    stdout: lineSplitter((l) => options.onLine?.(l, "stdout")),
    stderr: lineSplitter((l) => options.onLine?.(l, "stderr")),
  };
  out.on("data", (c: Buffer) => {
    chunks.stdout.push(c);
    splitters.stdout.push(c);
  });
  err.on("data", (c: Buffer) => {
    chunks.stderr.push(c);
    splitters.stderr.push(c);
  });
  docker().modem.demuxStream(stream, out, err);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  splitters.stdout.flush();
  splitters.stderr.flush();
  const { ExitCode } = await exec.inspect();
  const result: ExecResult = {
    command: argv.join(" "),
    exitCode: ExitCode ?? -1,
    stdout: Buffer.concat(chunks.stdout).toString("utf8"),
    stderr: Buffer.concat(chunks.stderr).toString("utf8"),
    durationMs: performance.now() - started,
  };
  if (result.exitCode !== 0 && !options.allowFailure) throw new CommandFailedError(options.where, result);
  return result;
}
