// The Barman host a nightly verification reaches (a container by docker exec, or a host by SSH)
// and the verification host a restore may go to: connecting, listing and checking servers, and
// removing what an interrupted run left there. A host that cannot be reached as given is a
// NightlyInputError (exit 2), not a failed verification.
import { BarmanClient } from "../../containers/barman/barman-client.ts";
import { SshTransport } from "../../containers/barman/ssh-transport.ts";
import { DockerExecTransport } from "../../containers/barman/transport.ts";
import { docker } from "../../containers/docker-resources.ts";
import { type ExecResult, words } from "../../containers/exec.ts";
import { type Budget, budget } from "../support/wait.ts";
import { type BarmanEndpoint, NightlyInputError, type VerificationHost, validateRemoteSshCommand } from "./nightly-result.ts";
import { DEFAULT_WORK_PARENT, removeWorkDirectory, WORK_PREFIX } from "./work-directories.ts";

/** Each command that removes an interrupted run's temporary directories (rm -rf of one restored copy). */
const LEFTOVER_REMOVAL = budget("leftoverRemoval", 60_000);

export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The Barman server: a container by name or id (a missing container is bad input), or an SSH
 * destination (reachability and host key are proven by the first command).
 */
export async function connectBarman(
  endpoint: BarmanEndpoint,
  server: string,
  commandBudget: Budget,
): Promise<{ barman: BarmanClient; label: string; running: boolean; status: string }> {
  if ("ssh" in endpoint) {
    let transport: SshTransport;
    try {
      transport = new SshTransport(endpoint.ssh, { commandBudget });
    } catch (error) {
      throw new NightlyInputError((error as Error).message);
    }
    const where = `SSH ${endpoint.ssh.destination}${endpoint.ssh.port ? ` port ${endpoint.ssh.port}` : ""}`;
    return { barman: new BarmanClient(transport, server), label: where, running: true, status: "reached over SSH" };
  }
  const nameOrId = endpoint.container;
  if (!SAFE_NAME.test(nameOrId)) throw new NightlyInputError(`'${nameOrId}' is not a Docker container name or id`);
  const info = await docker()
    .getContainer(nameOrId)
    .inspect()
    .catch((error: { statusCode?: number; message: string }) => {
      if (error.statusCode === 404) throw new NightlyInputError(`no container named '${nameOrId}' on this Docker engine (docker ps -a lists the names)`);
      throw error;
    });
  const containerName = info.Name.replace(/^\//, "");
  const barman = new BarmanClient(new DockerExecTransport(info.Id, containerName, { commandBudget }), server);
  return { barman, label: `container ${containerName}`, running: info.State.Running && !info.State.Paused, status: info.State.Status };
}

async function serversOf(barman: BarmanClient, label: string): Promise<string[]> {
  try {
    return await barman.listServers();
  } catch (error) {
    const last = barman.transcript.at(-1);
    if (last && (last.exitCode === 126 || last.exitCode === 127)) {
      throw new NightlyInputError(`${label} does not look like a Barman server (no barman user or command): ${words(last)}`);
    }
    throw new NightlyInputError((error as Error).message);
  }
}

/**
 * The servers Barman knows on that host (`barman list-servers`), and how the host is named in
 * messages. Unreachable hosts, refused host keys and hosts without Barman are NightlyInputErrors.
 */
export async function listBarmanServers(endpoint: BarmanEndpoint, commandBudget: Budget): Promise<{ label: string; servers: string[] }> {
  const { barman, label, running, status } = await connectBarman(endpoint, "-", commandBudget);
  if (!running) throw new NightlyInputError(`the Barman ${label} is not running (state: ${status})`);
  return { label, servers: await serversOf(barman, label) };
}

export async function assertServerKnown(barman: BarmanClient, label: string): Promise<void> {
  const servers = await serversOf(barman, label);
  if (!servers.includes(barman.serverName)) {
    throw new NightlyInputError(`Barman in ${label} has no server named '${barman.serverName}'; its servers: ${servers.join(", ") || "(none)"}`);
  }
}

/** The verification host's transport; a bad destination or remote command is bad input. */
export function verificationHostTransport(host: VerificationHost, commandBudget: Budget): SshTransport {
  const problem = validateRemoteSshCommand(host.remoteSshCommand);
  if (problem) throw new NightlyInputError(problem);
  try {
    return new SshTransport(host.ssh, { commandBudget, role: "the verification host" });
  } catch (error) {
    throw new NightlyInputError(`verification host: ${(error as Error).message}`);
  }
}

/**
 * For an interrupted run (SIGINT): removes this run's temporary directories from the Barman
 * server, or from the verification host. A `barman recover` still running there ends at its `timeout`.
 */
export async function removeLeftoverWorkDirectories(
  endpoint: BarmanEndpoint,
  runId: string,
  workParent = DEFAULT_WORK_PARENT,
  verificationHost?: VerificationHost,
): Promise<string[]> {
  let transport: BarmanClient["transport"];
  if (verificationHost) transport = verificationHostTransport(verificationHost, LEFTOVER_REMOVAL);
  else {
    const { barman, running } = await connectBarman(endpoint, "-", LEFTOVER_REMOVAL);
    if (!running) return [];
    transport = barman.transport;
  }
  const onServer = (argv: string[]): Promise<ExecResult> => transport.run(argv);
  const found = await onServer(["find", workParent, "-maxdepth", "1", "-name", `${WORK_PREFIX}${runId}-*`]);
  const directories = found.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  for (const directory of directories) await removeWorkDirectory(onServer, directory);
  return directories;
}
