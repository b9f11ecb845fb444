// A verification host of the user's own, for `barman restore --remote-ssh-command`: a PostgreSQL
// host with sshd on the run's network (as "verify-host"), published on 127.0.0.1. The Barman
// host's barman user logs in there as postgres (its own key, as Barman's remote recovery needs);
// the test's key is authorised too and the host key pinned in the test's known_hosts, so the
// verification reaches it with the OpenSSH client and strict host keys, as it reaches the Barman host.
import { appendFile, readFile } from "node:fs/promises";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import { execIn } from "../../containers/exec.ts";
import { PrimaryContainer, type StartedDrillPostgres } from "../../containers/postgres/postgres-containers.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import type { VerificationHost } from "../../src/nightly/nightly-result.ts";

const SSH_PORT = 22;
const ALIAS = "verify-host";

export interface StartedVerificationHost extends VerificationHost {
  container: StartedDrillPostgres;
  /** The temporary directories a verification left in /var/tmp there. */
  leftovers(): Promise<string[]>;
}

/** `access`: the test's SSH access to the Barman host; its key and known_hosts are used for this host too. */
export async function startVerificationHost(env: DrillEnvironment, access: SshTarget): Promise<StartedVerificationHost> {
  const container = await new PrimaryContainer({
    image: env.images.postgres,
    network: env.network,
    alias: ALIAS,
    labels: env.labels,
    superuser: { user: "postgres", password: "unused-verify-host", database: "postgres" },
    startupTimeoutMs: env.settings.budgetsMs.containerStart,
    statementTimeoutMs: env.settings.budgetsMs.sqlStatement,
    sshd: true,
  })
    .withExposedPorts(SSH_PORT)
    .withName(`${env.prefix}-${ALIAS}`)
    .start();
  env.companions.push(container);
  // Barman's side: its own key authorised for postgres there, and the first login made (as for rsync backups).
  await env.enableRsyncBackups(container, ALIAS);
  // The test's side: its key authorised, the host key pinned.
  const publicKey = (await readFile(`${access.identityFile!}.pub`, "utf8")).trim();
  await execIn(
    container.getId(),
    ["bash", "-c", 'install -d -m 0700 ~/.ssh && printf "%s\n" "$1" >> ~/.ssh/authorized_keys && chmod 0600 ~/.ssh/authorized_keys', "authorize", publicKey],
    { user: "postgres", where: "the verification host" },
  );
  const hostKey = (await execIn(container.getId(), ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"], { user: "root", where: "the verification host" })).stdout;
  const port = container.getMappedPort(SSH_PORT);
  await appendFile(access.knownHostsFile!, `[${container.getHost()}]:${port} ${hostKey.trim().split(" ").slice(0, 2).join(" ")}\n`);
  return {
    container,
    ssh: { destination: `postgres@${container.getHost()}`, port, identityFile: access.identityFile, knownHostsFile: access.knownHostsFile },
    remoteSshCommand: `ssh postgres@${ALIAS}`,
    async leftovers() {
      const found = await execIn(container.getId(), ["find", "/var/tmp", "-maxdepth", "1", "-name", "pgdrill-verify-*"], {
        user: "root",
        where: "the verification host",
      });
      return found.stdout.split("\n").filter(Boolean);
    },
  };
}
