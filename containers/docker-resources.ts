// Everything a drill creates in Docker carries these labels, so that a run can remove exactly
// its own containers, networks and volumes, and a later run can remove what a killed one left.
// (Testcontainers' Ryuk reaper cannot run here: its image cannot be pulled.)

import { hostname } from "node:os";
import Dockerode from "dockerode";

export const LABEL_OWNED = "io.pgdrill";
export const LABEL_RUN = "io.pgdrill.run";
export const LABEL_PID = "io.pgdrill.pid";
export const LABEL_HOST = "io.pgdrill.host";

let client: Dockerode | undefined;
/** One Docker client for the process; honours DOCKER_HOST like the docker CLI and Testcontainers. */
export function docker(): Dockerode {
  client ??= new Dockerode();
  return client;
}

export function runLabels(runId: string, ownerPid: number = process.pid): Record<string, string> {
  return { [LABEL_OWNED]: "true", [LABEL_RUN]: runId, [LABEL_PID]: String(ownerPid), [LABEL_HOST]: hostname() };
}

export class DockerEngineUnavailableError extends Error {
  constructor(cause: unknown) {
    const where = process.env["DOCKER_HOST"] ?? "unix:///var/run/docker.sock";
    super(
      `No Docker engine answers at ${where}: run 'bash scripts/setup.sh' (it starts one on Debian as root) ` +
        `or start Docker yourself, then run again. (${cause instanceof Error ? cause.message : String(cause)})`,
    );
    this.name = "DockerEngineUnavailableError";
  }
}

export async function assertEngineAnswers(): Promise<{ version: string; apiVersion: string }> {
  try {
    const v = await docker().version();
    return { version: v.Version, apiVersion: v.ApiVersion };
  } catch (error) {
    throw new DockerEngineUnavailableError(error);
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface ReapSummary {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/**
 * Removes drill resources. With `runId`, exactly that run's; with `all`, every run's (also one
 * still going); otherwise those of every run whose owning process is gone (a run killed with SIGKILL, a crashed CI job). Order matters: containers
 * hold networks and volumes.
 */
export async function reap(options: { runId?: string; all?: boolean } = {}): Promise<ReapSummary> {
  const engine = docker();
  const filter = { label: [options.runId ? `${LABEL_RUN}=${options.runId}` : `${LABEL_OWNED}=true`] };
  const belongsToDeadRun = (labels: Record<string, string> | undefined): boolean => {
    if (options.runId || options.all) return true;
    if (!labels) return false;
    if (labels[LABEL_HOST] !== hostname()) return false; // another machine's engine user: not ours to judge
    const pid = Number(labels[LABEL_PID]);
    return !Number.isInteger(pid) || !isProcessAlive(pid);
  };
  const summary: ReapSummary = { containers: [], networks: [], volumes: [] };

  for (const info of await engine.listContainers({ all: true, filters: filter })) {
    if (!belongsToDeadRun(info.Labels)) continue;
    await engine.getContainer(info.Id).remove({ force: true, v: true }).catch(ignoreNotFound);
    summary.containers.push(info.Names[0]?.replace(/^\//, "") ?? info.Id);
  }
  for (const info of await engine.listNetworks({ filters: filter })) {
    if (!belongsToDeadRun(info.Labels)) continue;
    await engine.getNetwork(info.Id).remove().catch(ignoreNotFound);
    summary.networks.push(info.Name);
  }
  const { Volumes: volumes } = await engine.listVolumes({ filters: filter });
  for (const info of volumes ?? []) {
    if (!belongsToDeadRun(info.Labels ?? undefined)) continue;
    await engine.getVolume(info.Name).remove({ force: true }).catch(ignoreNotFound);
    summary.volumes.push(info.Name);
  }
  return summary;
}

function ignoreNotFound(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode === 404) return;
  throw error;
}

/** The commands a person runs to remove a kept run by hand. */
export function manualCleanupCommands(runId: string): string[] {
  const f = `--filter label=${LABEL_RUN}=${runId}`;
  return [`docker rm -f -v $(docker ps -aq ${f})`, `docker network rm $(docker network ls -q ${f})`, `docker volume rm $(docker volume ls -q ${f})`];
}

/** A container's output so far, stdout and stderr interleaved as Docker recorded them. */
export async function containerLogs(containerId: string): Promise<string> {
  const raw = (await docker().getContainer(containerId).logs({ stdout: true, stderr: true, follow: false })) as Buffer;
  return demultiplex(raw);
}

/** Docker's log stream for a non-TTY container: frames of [stream, 0, 0, 0, size(4 bytes BE), payload]. */
export function demultiplex(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length && raw[offset]! <= 2 && raw[offset + 1] === 0) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === 0 ? raw.toString("utf8") : Buffer.concat(parts).toString("utf8");
}
