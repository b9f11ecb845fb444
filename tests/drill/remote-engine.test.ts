// A remote Docker engine, for real: a second engine (Debian's docker.io) runs in a container of this
// run's engine, reached over TCP on a port published on 127.0.0.1, and `npm run drill`'s Scenario 12
// drill runs against it as a child Vitest with DOCKER_HOST set, as a GitLab job does against its
// docker:dind service. The inner engine starts with no images, so the child builds them there
// (mmdebstrap on this machine, the tarball streamed through the Engine API, then the Dockerfiles).
// Afterwards nothing of the drill is left on either engine.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as allure from "allure-js-commons";
import Dockerode from "dockerode";
import { afterAll, expect, inject, test } from "vitest";
import { docker, LABEL_PID, runLabels } from "../../containers/docker-resources.ts";
import { engineEndpoint } from "../../containers/engine-endpoint.ts";
import { followBuildStream } from "../../containers/images.ts";
import { budgetOf, readSettings } from "../../src/drill/config.ts";
import { pollUntil } from "../../src/support/wait.ts";

const run = inject("drillRun");
const settings = readSettings();
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");
const ENGINE_CONTEXT = fileURLToPath(new URL("./remote-engine", import.meta.url));
const ENGINE_PORT = "2375/tcp";
const say = (line: string): void => console.log(`[remote engine] ${line}`);

let sandbox: string | undefined;
let engine: InnerEngine | undefined;

interface InnerEngine {
  container: Dockerode.Container;
  volume: string;
  /** DOCKER_HOST of the inner engine, as this machine reaches it: tcp://127.0.0.1:<published port>. */
  dockerHost: string;
  /** The inner engine's container on the outer engine's bridge: where the ports it publishes are. */
  bridgeIp: string;
  client: Dockerode;
}

/** The engine image, built once on this run's engine from the drill's own Debian base; its tag hashes what goes in. */
async function ensureEngineImage(base: string): Promise<string> {
  const files = ["Dockerfile", "start-engine.sh"];
  const hash = createHash("sha256").update(base);
  for (const file of files) hash.update(file).update(await readFile(join(ENGINE_CONTEXT, file)));
  const tag = `pgdrill/docker-engine:${hash.digest("hex").slice(0, 12)}`;
  const exists = await docker()
    .getImage(tag)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (!exists) {
    say(`building ${tag} (Debian's docker.io on ${base})`);
    const stream = await docker().buildImage({ context: ENGINE_CONTEXT, src: files }, { t: tag, buildargs: { BASE_IMAGE: base }, rm: true, forcerm: true });
    // The Dockerfile's steps where a person watches; apt's detail is not worth the screen.
    await followBuildStream(stream, (line) => /^\s*Step \d+\/\d+/.test(line) && say(line.trim()));
  }
  return tag;
}

async function startInnerEngine(image: string): Promise<InnerEngine> {
  // Labelled as this run's: the run's teardown (and a later run, if this one is killed) removes them.
  const labels = runLabels(run.runId, run.ownerPid);
  const volume = `pgdrill-${run.runId}-inner-engine`;
  await docker().createVolume({ Name: volume, Labels: labels });
  // --privileged first, as docker:dind runs. Where the engine cannot give a privileged container
  // every capability (this machine's dockerd lacks CAP_SYS_RESOURCE in its bounding set: runc says
  // "unable to apply caps: operation not permitted"), every capability but that one, no seccomp or
  // AppArmor profile, /proc and /sys unmasked and every device allowed do the same for the inner
  // engine (start-engine.sh makes the cgroups writable).
  const privileged = { Privileged: true };
  const allButSysResource = {
    CapAdd: ["ALL"],
    CapDrop: ["SYS_RESOURCE"],
    SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
    // `--security-opt systempaths=unconfined` of the CLI: /proc and /sys neither masked nor read-only.
    MaskedPaths: [],
    ReadonlyPaths: [],
    DeviceCgroupRules: ["a *:* rwm"],
  };
  let container: Dockerode.Container | undefined;
  for (const powers of [privileged, allButSysResource]) {
    const candidate = await docker().createContainer({
      Image: image,
      Labels: labels,
      ExposedPorts: { [ENGINE_PORT]: {} },
      HostConfig: {
        ...powers,
        // overlay2 on a volume: the volume lives on the outer engine's own file system (ext4 here),
        // where overlay mounts work; on the container's overlay root they would not (vfs would copy
        // every layer in full).
        Binds: [`${volume}:/var/lib/docker`],
        // The inner engine's API on this machine's loopback only.
        PortBindings: { [ENGINE_PORT]: [{ HostIp: "127.0.0.1", HostPort: "0" }] },
      },
    });
    try {
      await candidate.start();
      container = candidate;
      say(
        `inner engine's container started ${powers === privileged ? "--privileged" : "with every capability but CAP_SYS_RESOURCE (privileged is refused here)"}`,
      );
      break;
    } catch (error) {
      await candidate.remove({ force: true, v: true });
      if (powers !== privileged || !/unable to apply caps/.test((error as Error).message)) throw error;
    }
  }
  if (!container) throw new Error("the inner engine's container did not start");
  const info = await container.inspect();
  const port = info.NetworkSettings.Ports[ENGINE_PORT]?.[0]?.HostPort;
  const bridgeIp = info.NetworkSettings.Networks["bridge"]?.IPAddress;
  if (!port || !bridgeIp)
    throw new Error(`the inner engine's container has no published port or bridge address: ${JSON.stringify(info.NetworkSettings.Ports)}`);
  const client = new Dockerode({ host: "127.0.0.1", port: Number(port) });
  const version = await pollUntil({
    what: "the inner Docker engine answering on its published port",
    budget: budgetOf(settings, "containerStart"),
    probe: () => client.version(),
    done: () => true,
    intervalMs: 200,
  });
  say(`inner engine ${version.Version} at tcp://127.0.0.1:${port}, its containers' ports at ${bridgeIp}`);
  return { container, volume, dockerHost: `tcp://127.0.0.1:${port}`, bridgeIp, client };
}

/** Everything on the inner engine besides its images and default networks: it must be empty after the drill. */
async function innerLeftovers(client: Dockerode): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const [containers, networks, volumes] = await Promise.all([client.listContainers({ all: true }), client.listNetworks(), client.listVolumes()]);
  return {
    containers: containers.map((c) => c.Names[0] ?? c.Id),
    networks: networks.map((n) => n.Name).filter((name) => !["bridge", "host", "none"].includes(name)),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name),
  };
}

async function removeInnerEngine(): Promise<void> {
  if (!engine) return;
  const { container, volume } = engine;
  engine = undefined;
  await container.remove({ force: true, v: true }).catch(() => undefined);
  await docker()
    .getVolume(volume)
    .remove({ force: true })
    .catch(() => undefined);
}

afterAll(async () => {
  await removeInnerEngine();
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

/** The JUnit test cases of the child run: name, and "passed", "skipped" or the failure message. */
function testCases(junit: string): Array<{ name: string; outcome: string }> {
  return [...junit.matchAll(/<testcase [^>]*name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => {
    const body = m[3] ?? "";
    const failure = /<failure message="([^"]*)"/.exec(body);
    return { name: m[1]!, outcome: failure ? failure[1]!.replaceAll("&quot;", '"') : /<skipped/.test(body) ? "skipped" : "passed" };
  });
}

// When this run's engine is itself remote (a GitLab job on docker:dind), every drill of the run
// already proves the remote case, and an engine started on that engine would publish its API where
// this job cannot reach it: the test runs where the engine is local (this machine, GitHub's runners).
const engineIsRemote = engineEndpoint().kind === "remote";
if (engineIsRemote) say(`skipped: this run's engine is remote (${engineEndpoint().dockerHost}), so every drill of the run is the remote-engine proof`);

test.skipIf(engineIsRemote)(
  "the Scenario 12 drill passes against a remote Docker engine (DOCKER_HOST=tcp://…), builds its images there and leaves nothing on either engine",
  async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Where pipelines run");
    await allure.story("Remote Docker engine");
    const timings: Record<string, string> = {};
    const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        timings[name] = `${((performance.now() - started) / 1000).toFixed(1)} s`;
        await allure.parameter(`time: ${name}`, timings[name]);
      }
    };

    const base = run.images.bases.find((b) => b.includes("bookworm")) ?? run.images.bases[0]!;
    const image = await timed("engine image", () => ensureEngineImage(base));
    engine = await timed("inner engine started", () => startInnerEngine(image));
    const inner = engine;

    if (settings.baseImage || process.getuid?.() !== 0) {
      // PGDRILL_BASE_IMAGE (a registry's debian:{suite}-slim, as on GitHub's runners), or no root for
      // mmdebstrap: the inner engine gets the same bases from this engine, streamed through the API;
      // the Dockerfiles still build there. As root without it, the child makes them with mmdebstrap.
      await timed("base images copied", async () => {
        // Followed to its end: the load is done when the engine's answer stream ends.
        for (const b of run.images.bases) await followBuildStream(await inner.client.loadImage(await docker().getImage(b).get()), () => undefined);
      });
    }

    // The child runs in a sandbox (the project's files linked into a temporary folder), so its
    // reports, metrics and RTO history never mix with this run's.
    sandbox = await mkdtemp(join(tmpdir(), "pgdrill-remote-engine-"));
    for (const entry of await readdir(ROOT)) {
      if (entry !== "reports" && entry !== ".git") await symlink(join(ROOT, entry), join(sandbox, entry));
    }
    const junitPath = join(sandbox, "junit.xml");
    // The inner engine's containers publish their ports inside the inner engine's container, so this
    // machine reaches them at that container's address on the outer bridge, not at DOCKER_HOST's
    // 127.0.0.1 (that is only the outer engine's port for the inner API). TESTCONTAINERS_HOST_OVERRIDE
    // says so, and the drill then opens its ports on that one address (containers/engine-endpoint.ts),
    // as a GitLab job reaches dind's ports at the service's address.
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: inner.dockerHost, TESTCONTAINERS_HOST_OVERRIDE: inner.bridgeIp };
    delete env["PGDRILL_BIND_ADDRESS"];
    const child = spawn(
      process.execPath,
      [VITEST, "run", "--project", "drill", "tests/drill/drill.test.ts", "--reporter=default", "--reporter=junit", `--outputFile.junit=${junitPath}`],
      { cwd: sandbox, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      // The set-up's own lines (engine, image builds and their times) where a person watches; the
      // builds' detail stays in the attachment.
      for (const line of chunk.toString().split("\n")) if (/^\[drill setup\] \S/.test(line)) say(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const code = await timed("child drill (image builds included)", () => new Promise<number | null>((resolve) => child.on("close", resolve)));
    await allure.attachment("child drill output", output, "text/plain");
    const built = /\[drill setup\] built .* in ([\d.]+) s/.exec(output);
    if (built) await allure.parameter("time: images built on the inner engine", `${built[1]} s`);

    expect(output, "the child drill used the inner engine").toMatch(
      new RegExp(`remote engine at ${inner.dockerHost.replaceAll(".", "\\.")}, ports opened on its ${inner.bridgeIp.replaceAll(".", "\\.")}`),
    );
    expect(code, "the Scenario 12 drill against the remote engine passes").toBe(0);
    const cases = testCases(await readFile(junitPath, "utf8"));
    await allure.attachment("child drill results", JSON.stringify(cases, null, 2), "application/json");
    for (let step = 1; step <= 12; step++) expect(cases.find((c) => c.name.includes(`Step ${step}:`))?.outcome ?? "missing", `step ${step}`).toBe("passed");

    // The images were built on the inner engine, under the same tags as here (the tags hash what goes in).
    const innerTags = (await inner.client.listImages()).flatMap((i) => i.RepoTags ?? []);
    expect(innerTags, "images built on the remote engine").toEqual(expect.arrayContaining([run.images.postgres, run.images.barman]));
    expect(await innerLeftovers(inner.client), "nothing left on the remote engine").toEqual({ containers: [], networks: [], volumes: [] });

    // And nothing on this run's engine: the child's resources were all on the inner engine, and the
    // inner engine's container and its volume are removed now.
    const { container, volume } = inner;
    await removeInnerEngine();
    const childFilter = { filters: { label: [`${LABEL_PID}=${child.pid}`] } };
    const [outerContainers, outerNetworks, outerVolumes] = await Promise.all([
      docker().listContainers({ all: true, ...childFilter }),
      docker().listNetworks(childFilter),
      docker().listVolumes(childFilter),
    ]);
    expect(
      { containers: outerContainers.length, networks: outerNetworks.length, volumes: outerVolumes.Volumes?.length ?? 0 },
      "nothing of the child on this engine",
    ).toEqual({
      containers: 0,
      networks: 0,
      volumes: 0,
    });
    const gone = async (inspect: () => Promise<unknown>): Promise<boolean> =>
      inspect().then(
        () => false,
        (error: { statusCode?: number }) => error.statusCode === 404,
      );
    expect(await gone(() => container.inspect()), "the inner engine's container removed").toBe(true);
    expect(await gone(() => docker().getVolume(volume).inspect()), "the inner engine's volume removed").toBe(true);
    await allure.attachment("timings", JSON.stringify(timings, null, 2), "application/json");
    say(`timings: ${JSON.stringify(timings)}`);
  },
);
