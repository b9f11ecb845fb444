// What a nightly verification may leave behind, read from outside by the tests: its throwaway
// instances (by label) and its temporary directories on the Barman server.
import { docker } from "../../containers/docker-resources.ts";
import { execIn } from "../../containers/exec.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import { LABEL_ROLE, THROWAWAY_ROLE } from "../../src/nightly/verify-existing.ts";

export async function leftoverThrowaways(): Promise<string[]> {
  const containers = await docker().listContainers({ all: true, filters: { label: [`${LABEL_ROLE}=${THROWAWAY_ROLE}`] } });
  return containers.map((c) => c.Names[0]?.replace(/^\//, "") ?? c.Id);
}

export async function workDirectoriesOnBarman(env: DrillEnvironment): Promise<string[]> {
  const r = await execIn(env.barmanServer.getId(), ["find", "/var/tmp", "-maxdepth", "1", "-name", "pgdrill-verify-*"], {
    user: "root",
    where: "the Barman server",
  });
  return r.stdout.split("\n").filter(Boolean);
}
