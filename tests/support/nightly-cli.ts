// `npm run verify:existing` as a scheduler runs it: a child process on the same Node, with the same
// environment. The tests read its exit code, stdout (the summary) and stderr (progress), and may act
// on its progress (e.g. interrupt it at a chosen moment).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";

/** The CLI's options that reach a Barman host over SSH as a test's fixture grants it (a key, a pinned host key). */
export function barmanSshArgs(ssh: SshTarget): string[] {
  return ["--barman-ssh", ssh.destination, "--ssh-port", String(ssh.port), "--ssh-identity", ssh.identityFile!, "--ssh-known-hosts", ssh.knownHostsFile!];
}

const CLI = fileURLToPath(new URL("../../scripts/verify-existing.ts", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export function runNightlyCli(
  args: string[],
  options: { say: (line: string) => void; onStderrLine?: (line: string, child: ChildProcess) => void },
): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      for (const line of c.toString().split("\n").filter(Boolean)) {
        options.say(`cli: ${line}`);
        options.onStderrLine?.(line, child);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, durationMs: performance.now() - started }));
  });
}
