// A test's SSH access to a drill's Barman host, as the host's owner would grant it.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";

const sh = promisify(execFile);

/**
 * A key pair made for the test in `keys` (id_test, and id_other: one the host does not know), the
 * public half of id_test authorised for the barman user, the host key pinned in `keys`/known_hosts
 * (read from the host by the test, not by the code under test). The Barman server must publish its
 * sshd (publishBarmanSsh).
 */
export async function sshAccess(env: DrillEnvironment, keys: string): Promise<SshTarget> {
  for (const name of ["id_test", "id_other"]) await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `pgdrill-${name}`, "-f", join(keys, name)]);
  await env.barmanServer.authorizeSshKey(await readFile(join(keys, "id_test.pub"), "utf8"));
  const endpoint = await env.barmanServer.sshEndpoint();
  await writeFile(join(keys, "known_hosts"), `[${endpoint.host}]:${endpoint.port} ${endpoint.hostKey}\n`);
  return { destination: `barman@${endpoint.host}`, port: endpoint.port, identityFile: join(keys, "id_test"), knownHostsFile: join(keys, "known_hosts") };
}
