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

export const CONTAINERS_DIR = fileURLToPath(new URL(".", import.meta.url));

export interface DrillImages {
  /** Debian base every image starts FROM. */
  base: string;
  /** PostgreSQL 15: the primary and the recovered instances. */
  postgres: string;
  /** Barman 3.4 server. */
  barman: string;
}

export type ProgressSink = (line: string) => void;

/** Files that make up the build context (same rule as containers/.dockerignore). */
async function contextFiles(dir = CONTAINERS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(CONTAINERS_DIR, join(e.parentPath, e.name)))
    .filter((path) => !path.endsWith(".ts") && !path.startsWith("base/"))
    .sort();
}

export function packagesFor(packageList: string, image: string): string[] {
  return packageList
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean)
    .map((line) => line.split(/\s+/))
    .filter(([role]) => role === image)
    .map(([, pkg]) => pkg!);
}

async function hashOf(parts: Array<[string, string | Buffer]>): Promise<string> {
  const hash = createHash("sha256");
  for (const [name, content] of parts) hash.update(name).update("\0").update(content).update("\0");
  return hash.digest("hex").slice(0, 12);
}

export async function imageTags(baseOverride?: string): Promise<{ tags: DrillImages; files: string[] }> {
  const packageList = await readFile(join(CONTAINERS_DIR, "debian-packages.txt"), "utf8");
  const base = baseOverride ?? `pgdrill/debian-base:bookworm-${await hashOf([["base", packagesFor(packageList, "base").join(" ")]])}`;
  const files = await contextFiles();
  const contextHash = await hashOf([
    ["FROM", base],
    ...(await Promise.all(files.map(async (f): Promise<[string, Buffer]> => [f, await readFile(join(CONTAINERS_DIR, f))]))),
  ]);
  return {
    tags: { base, postgres: `pgdrill/postgres:15-${contextHash}`, barman: `pgdrill/barman:3.4-${contextHash}` },
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
async function buildBaseImage(tag: string, progress: ProgressSink): Promise<void> {
  const packageList = await readFile(join(CONTAINERS_DIR, "debian-packages.txt"), "utf8");
  const dir = await mkdtemp(join(tmpdir(), "pgdrill-base-"));
  try {
    const tarball = join(dir, "rootfs.tar");
    progress(`building base image ${tag} with mmdebstrap (Debian bookworm, minbase)`);
    await run("mmdebstrap", ["--variant=minbase", `--include=${packagesFor(packageList, "base").join(",")}`, "bookworm", tarball], progress);
    progress(`importing ${tag}`);
    const [repo, version] = tag.split(/:(?=[^:]+$)/);
    const stream = await docker().importImage(createReadStream(tarball), { repo, tag: version, changes: ['CMD ["bash"]'] } as object);
    await followBuildStream(stream, progress);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function followBuildStream(stream: NodeJS.ReadableStream, progress: ProgressSink): Promise<void> {
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

async function buildFromDockerfile(options: { tag: string; dockerfile: string; base: string; files: string[]; progress: ProgressSink }): Promise<void> {
  options.progress(`building ${options.tag} from containers/${options.dockerfile}`);
  const stream = await docker().buildImage(
    { context: CONTAINERS_DIR, src: options.files },
    { t: options.tag, dockerfile: options.dockerfile, buildargs: { BASE_IMAGE: options.base }, rm: true, forcerm: true },
  );
  try {
    await followBuildStream(stream, options.progress);
  } catch (error) {
    throw new Error(`Building image ${options.tag} from containers/${options.dockerfile} failed: ${(error as Error).message}`);
  }
}

/** Makes sure the three images exist; builds only what is missing. Returns their tags. */
export async function ensureImages(options: { baseOverride?: string; progress: ProgressSink }): Promise<{ images: DrillImages; built: string[] }> {
  const { tags, files } = await imageTags(options.baseOverride);
  const built: string[] = [];
  if (!(await imageExists(tags.base))) {
    if (options.baseOverride) throw new Error(`PGDRILL_BASE_IMAGE=${options.baseOverride} is not an image this engine has; pull or build it first.`);
    await buildBaseImage(tags.base, options.progress);
    built.push(tags.base);
  }
  for (const [tag, dockerfile] of [
    [tags.postgres, "postgres/Dockerfile"],
    [tags.barman, "barman/Dockerfile"],
  ] as const) {
    if (await imageExists(tag)) continue;
    await buildFromDockerfile({ tag, dockerfile, base: tags.base, files, progress: options.progress });
    built.push(tag);
  }
  return { images: tags, built };
}
