// Builds the drill's images locally, once: tags carry a hash of what goes into them, so a second
// run finds them and skips the build, and any change under containers/ yields a new tag.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { docker } from "./docker-resources.ts";
import { BARMAN_VERSIONS, DEBIAN_SUITES, type DebianSuite, type Platform, POSTGRES_VERSIONS } from "./platforms.ts";

export const CONTAINERS_DIR = fileURLToPath(new URL(".", import.meta.url));

export interface DrillImages {
  /** The platform these images give. */
  platform: Platform;
  /** PostgreSQL of `platform.postgres`: the primary and the recovered instances. */
  postgres: string;
  /** Barman of `platform.barman`. */
  barman: string;
  /** The Debian base images they start FROM, one per suite. */
  bases: string[];
}

export type ProgressSink = (line: string) => void;

/** Files that make up the build context (same rule as containers/.dockerignore). */
async function contextFiles(dir = CONTAINERS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return (
    entries
      .filter((e) => e.isFile())
      .map((e) => relative(CONTAINERS_DIR, join(e.parentPath, e.name)))
      // The module code beside the Dockerfiles is not part of any image: .ts here, .js and .d.ts in the built package.
      .filter((path) => !/\.(ts|js)$/.test(path) && !path.startsWith("base/"))
      .sort()
  );
}

/**
 * The packages of one section of debian-packages.txt: `[base]`, or `[image version suite]` such
 * as `[postgres 17 trixie]`. Returns the suite the section names (undefined for base) with them.
 */
export function packageSection(packageList: string, image: string, version?: string): { suite: string | undefined; packages: string[] } {
  let inSection = false;
  let suite: string | undefined;
  const packages: string[] = [];
  for (const raw of packageList.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const header = /^\[(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\]$/.exec(line);
    if (header) {
      inSection = header[1] === image && (version === undefined ? header[2] === undefined : header[2] === version);
      if (inSection) suite = header[3];
      continue;
    }
    if (inSection) packages.push(line);
  }
  return { suite, packages };
}

/** The Debian mirror this machine's apt uses (deb822 or one-line sources), for suites other than its own. */
export async function debianMirror(): Promise<string> {
  const sources = await Promise.all(["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"].map((path) => readFile(path, "utf8").catch(() => "")));
  const deb822 = /^URIs:\s*(\S+)/m.exec(sources[0]!);
  const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(sources[1]!);
  return deb822?.[1] ?? oneLine?.[1] ?? "http://deb.debian.org/debian";
}

/**
 * A build that failed because the Debian suite could not give a package (a moving suite such as
 * forky drops or renames packages; a snapshot can be unreachable) becomes one line naming the
 * suite, the image and apt's own words; any other failure is returned as it was.
 */
export function explainPackageFailure(suite: string, image: string, error: Error): Error {
  const lines = error.message.split("\n");
  const apt = lines.find((l) =>
    /Unable to locate package|has no installation candidate|Release file .* is expired|is not valid yet|does not have a Release file|Failed to fetch|Unable to fetch/.test(
      l,
    ),
  );
  if (!apt) return error;
  return new Error(
    `Debian ${suite} cannot give the packages of ${image} here: ${apt.replace(/^\s*(E:|W:)?\s*/, "").trim()} (containers/debian-packages.txt lists them)`,
  );
}

/** "host" for this machine's own suite (its apt sources as they are), else the mirror line. */
async function baseSources(suite: DebianSuite): Promise<string> {
  return suite === (await hostSuite()) ? "host" : `deb ${await debianMirror()} ${suite} main`;
}

/** This machine's Debian suite (VERSION_CODENAME), if it is Debian. */
async function hostSuite(): Promise<string | undefined> {
  const release = await readFile("/etc/os-release", "utf8").catch(() => "");
  return /^VERSION_CODENAME=(\S+)$/m.exec(release)?.[1];
}

async function hashOf(parts: Array<[string, string | Buffer]>): Promise<string> {
  const hash = createHash("sha256");
  for (const [name, content] of parts) hash.update(name).update("\0").update(content).update("\0");
  return hash.digest("hex").slice(0, 12);
}

interface ImagePlan {
  tag: string;
  dockerfile: string;
  base: string;
  suite: DebianSuite;
  buildArgs: Record<string, string>;
}

/**
 * The tags of a platform's images and how to build them. Tags carry a hash of everything that
 * goes in (the base, the build context, the packages), so a cached image is found by name.
 * `baseOverride`: a registry image for the base, `{suite}` standing for the Debian suite (e.g.
 * `debian:{suite}-slim`).
 */
export async function imagePlans(
  platform: Platform,
  baseOverride?: string,
): Promise<{ bases: Record<string, string>; postgres: ImagePlan; barman: ImagePlan; files: string[] }> {
  const packageList = await readFile(join(CONTAINERS_DIR, "debian-packages.txt"), "utf8");
  const basePackages = packageSection(packageList, "base").packages;
  // The hash covers where the packages come from: this machine's own sources (with security
  // updates) for its suite, the mirror for another.
  const baseTag = async (suite: DebianSuite): Promise<string> =>
    baseOverride
      ? baseOverride.replaceAll("{suite}", suite)
      : `pgdrill/debian-base:${suite}-${await hashOf([["base", `${suite} ${await baseSources(suite)} ${basePackages.join(" ")}`]])}`;
  const files = await contextFiles();
  const context = await Promise.all(files.map(async (f): Promise<[string, Buffer]> => [f, await readFile(join(CONTAINERS_DIR, f))]));
  const section = (image: string, version: string, suite: DebianSuite): string[] => {
    const found = packageSection(packageList, image, version);
    if (found.packages.length === 0) throw new Error(`containers/debian-packages.txt has no section [${image} ${version} ${suite}]`);
    if (found.suite !== suite)
      throw new Error(`containers/debian-packages.txt names suite ${found.suite} for [${image} ${version}], containers/platforms.ts says ${suite}`);
    return found.packages;
  };
  const pgSuite = POSTGRES_VERSIONS[platform.postgres].suite;
  const barmanVersion = BARMAN_VERSIONS[platform.barman];
  const pgBase = await baseTag(pgSuite);
  const barmanBase = await baseTag(barmanVersion.suite);
  const pgArgs = { PG_MAJOR: platform.postgres, PACKAGES: section("postgres", platform.postgres, pgSuite).join(" ") };
  const barmanArgs = { PG_CLIENT_MAJOR: String(barmanVersion.clientMajor), PACKAGES: section("barman", platform.barman, barmanVersion.suite).join(" ") };
  const tagHash = (base: string, args: Record<string, string>): Promise<string> => hashOf([["FROM", base], ["ARGS", JSON.stringify(args)], ...context]);
  return {
    bases: { [pgSuite]: pgBase, [barmanVersion.suite]: barmanBase },
    postgres: {
      tag: `pgdrill/postgres:${platform.postgres}-${await tagHash(pgBase, pgArgs)}`,
      dockerfile: "postgres/Dockerfile",
      base: pgBase,
      suite: pgSuite,
      buildArgs: pgArgs,
    },
    barman: {
      tag: `pgdrill/barman:${platform.barman}-${await tagHash(barmanBase, barmanArgs)}`,
      dockerfile: "barman/Dockerfile",
      base: barmanBase,
      suite: barmanVersion.suite,
      buildArgs: barmanArgs,
    },
    files,
  };
}

async function imageExists(tag: string): Promise<boolean> {
  try {
    await docker().getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], progress: ProgressSink): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        progress(`  ${command}: ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (error) =>
      reject(
        new Error(
          `Could not run ${command}: ${error.message}. Install it (Debian: apt-get install ${command}) or set PGDRILL_BASE_IMAGE to a Debian bookworm image your engine has.`,
        ),
      ),
    );
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${tail.join("\n")}`))));
  });
}

/** No registry is reachable here, so the Debian base is made from Debian packages with mmdebstrap. */
async function buildBaseImage(tag: string, suite: DebianSuite, progress: ProgressSink): Promise<void> {
  // mmdebstrap as another user needs user namespaces and uidmap, which such machines rarely allow.
  if (process.getuid?.() !== 0)
    throw new Error(
      `Building the Debian base image ${tag} needs root (mmdebstrap): run the same command once as root in a separate clone of the project (the images are then cached on this engine), or set PGDRILL_BASE_IMAGE=debian:{suite}-slim where a registry is reachable.`,
    );
  const packageList = await readFile(join(CONTAINERS_DIR, "debian-packages.txt"), "utf8");
  const dir = await mkdtemp(join(tmpdir(), "pgdrill-base-"));
  try {
    const tarball = join(dir, "rootfs.tar");
    progress(`building base image ${tag} with mmdebstrap (${DEBIAN_SUITES[suite].release}, minbase)`);
    // A moving suite's snapshot carries an expired Release file; the option is kept in the image's apt config.
    const aptOptions = DEBIAN_SUITES[suite].moving ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : [];
    const packages = packageSection(packageList, "base").packages;
    // This machine's own suite through its apt sources as they are (with -updates and -security);
    // another suite from the same mirror.
    const sources = await baseSources(suite);
    const mirror = sources === "host" ? [] : [sources];
    await run("mmdebstrap", ["--variant=minbase", `--include=${packages.join(",")}`, ...aptOptions, suite, tarball, ...mirror], progress);
    progress(`importing ${tag}`);
    const [repo, version] = tag.split(/:(?=[^:]+$)/);
    const stream = await docker().importImage(createReadStream(tarball), { repo, tag: version, changes: ['CMD ["bash"]'] } as object);
    await followBuildStream(stream, progress);
  } catch (error) {
    throw explainPackageFailure(suite, "the base image", error as Error);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Follows a build or import stream of the Engine API, passing its lines to `progress`; rejects with the engine's error. */
export function followBuildStream(stream: NodeJS.ReadableStream, progress: ProgressSink): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker().modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : failure ? reject(new Error(failure)) : resolve()),
      (event: { stream?: string; status?: string; error?: string }) => {
        if (event.error) failure = event.error;
        const text = (event.stream ?? event.status ?? event.error ?? "").trimEnd();
        for (const line of text.split("\n").filter((l) => l.trim())) progress(`  ${line}`);
      },
    );
  });
}

async function buildFromDockerfile(options: { plan: ImagePlan; files: string[]; progress: ProgressSink }): Promise<void> {
  const { tag, dockerfile, base, buildArgs } = options.plan;
  options.progress(`building ${tag} from containers/${dockerfile} (Debian ${options.plan.suite})`);
  const stream = await docker().buildImage(
    { context: CONTAINERS_DIR, src: options.files },
    { t: tag, dockerfile, buildargs: { BASE_IMAGE: base, ...buildArgs }, rm: true, forcerm: true },
  );
  try {
    await followBuildStream(stream, options.progress);
  } catch (error) {
    throw explainPackageFailure(options.plan.suite, tag, new Error(`Building image ${tag} from containers/${dockerfile} failed: ${(error as Error).message}`));
  }
}

/**
 * A registry's base image (PGDRILL_BASE_IMAGE), pulled by the engine through the API: with a
 * remote engine (GitLab's docker:dind) the job may have no docker CLI to pull it with.
 */
async function pullBaseImage(tag: string, override: string, progress: ProgressSink): Promise<void> {
  progress(`pulling base image ${tag} (PGDRILL_BASE_IMAGE=${override})`);
  try {
    await followBuildStream(await docker().pull(tag), (line) => {
      // One line per layer state change is enough where a person watches; byte counts are noise.
      if (!/Downloading|Extracting|Waiting/.test(line)) progress(line);
    });
  } catch (error) {
    throw new Error(`PGDRILL_BASE_IMAGE=${override} gives ${tag}, which this engine could not pull: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** Makes sure a platform's images exist; builds only what is missing (a version not used is not built). */
export async function ensureImages(options: {
  platform: Platform;
  baseOverride?: string;
  progress: ProgressSink;
}): Promise<{ images: DrillImages; built: string[] }> {
  const plans = await imagePlans(options.platform, options.baseOverride);
  const built: string[] = [];
  for (const [suite, base] of Object.entries(plans.bases)) {
    if (await imageExists(base)) continue;
    if (options.baseOverride) {
      await pullBaseImage(base, options.baseOverride, options.progress);
      built.push(base);
      continue;
    }
    await buildBaseImage(base, suite as DebianSuite, options.progress);
    built.push(base);
  }
  for (const plan of [plans.postgres, plans.barman]) {
    if (await imageExists(plan.tag)) continue;
    await buildFromDockerfile({ plan, files: plans.files, progress: options.progress });
    built.push(plan.tag);
  }
  return {
    images: { platform: options.platform, postgres: plans.postgres.tag, barman: plans.barman.tag, bases: [...new Set(Object.values(plans.bases))] },
    built,
  };
}
