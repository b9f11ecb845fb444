import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { CONTAINERS_DIR, explainPackageFailure, imagePlans, packageSection } from "../../containers/images.ts";
import { BARMAN_VERSIONS, DEFAULT_PLATFORM, POSTGRES_VERSIONS, SUPPORTED_PAIRS } from "../../containers/platforms.ts";

const PACKAGE_LIST = readFileSync(new URL("../../containers/debian-packages.txt", import.meta.url), "utf8");

describe("packageSection", () => {
  test("the real list: PostgreSQL 15 from bookworm", () => {
    expect(packageSection(PACKAGE_LIST, "postgres", "15")).toEqual({
      suite: "bookworm",
      packages: ["postgresql-15", "postgresql-client-15", "tzdata", "locales", "barman-cli", "openssh-client", "openssh-server", "rsync", "tini", "pgbouncer"],
    });
  });

  test("the real list: Barman 3.13 from trixie, with PostgreSQL 17's client tools and no server", () => {
    const barman = packageSection(PACKAGE_LIST, "barman", "3.13");
    expect(barman.suite).toBe("trixie");
    expect(barman.packages).toEqual([
      "barman",
      "barman-cli",
      "postgresql-client-17",
      "rsync",
      "tzdata",
      "openssh-server",
      "bzip2",
      "pigz",
      // backup_compression lz4 / zstd (tar's compress program), WAL compression lz4 / zstd (Python).
      "lz4",
      "zstd",
      "python3-lz4",
      "python3-zstandard",
    ]);
    expect(barman.packages).not.toContain("postgresql-17");
  });

  test("the real list: base rootfs", () => {
    expect(packageSection(PACKAGE_LIST, "base")).toEqual({ suite: undefined, packages: ["ca-certificates", "tzdata"] });
  });

  test.each(Object.entries(POSTGRES_VERSIONS))("PostgreSQL %s: the list's suite is the one containers/platforms.ts names", (version, { suite }) => {
    const section = packageSection(PACKAGE_LIST, "postgres", version);
    expect(section.suite).toBe(suite);
    expect(section.packages).toContain(`postgresql-${version}`);
  });

  test.each(Object.entries(BARMAN_VERSIONS))(
    "Barman %s: the list's suite and client tools are the ones containers/platforms.ts names",
    (version, { suite, clientMajor }) => {
      const section = packageSection(PACKAGE_LIST, "barman", version);
      expect(section.suite).toBe(suite);
      expect(section.packages).toContain(`postgresql-client-${clientMajor}`);
    },
  );

  test("an image or version not in the list has no packages", () => {
    expect(packageSection(PACKAGE_LIST, "pgbouncer").packages).toEqual([]);
    expect(packageSection(PACKAGE_LIST, "postgres", "16").packages).toEqual([]);
    expect(packageSection(PACKAGE_LIST, "postgres").packages, "a versioned image needs its version").toEqual([]);
  });

  test("comments, blank lines, indentation, tabs and Windows line endings are ignored; the section must match exactly", () => {
    const list = [
      "# header",
      "",
      "[postgres 15 bookworm]",
      "  postgresql-15   # the server",
      "\tlocales\r",
      "#commented-out",
      "[postgres 150 bookworm]",
      "wrong-version",
      "[barman 3.4 bookworm]",
      "barman",
    ].join("\n");
    expect(packageSection(list, "postgres", "15")).toEqual({ suite: "bookworm", packages: ["postgresql-15", "locales"] });
    expect(packageSection(list, "barman", "3.4").packages).toEqual(["barman"]);
  });
});

describe("imagePlans (reads files only)", () => {
  test("same inputs, same tags, twice", async () => {
    expect(await imagePlans(DEFAULT_PLATFORM)).toEqual(await imagePlans(DEFAULT_PLATFORM));
  });

  test.each(SUPPORTED_PAIRS)("tag shapes for PostgreSQL $postgres + Barman $barman, each FROM its suite's base", async (platform) => {
    const plans = await imagePlans(platform);
    expect(plans.postgres.tag).toMatch(new RegExp(`^pgdrill/postgres:${platform.postgres}-[0-9a-f]{12}$`));
    expect(plans.barman.tag).toMatch(new RegExp(`^pgdrill/barman:${platform.barman.replace(".", "\\.")}-[0-9a-f]{12}$`));
    expect(plans.postgres.base).toMatch(new RegExp(`^pgdrill/debian-base:${POSTGRES_VERSIONS[platform.postgres].suite}-`));
    expect(plans.barman.base).toMatch(new RegExp(`^pgdrill/debian-base:${BARMAN_VERSIONS[platform.barman].suite}-`));
    expect(plans.postgres.buildArgs["PG_MAJOR"]).toBe(platform.postgres);
  });

  test("the same PostgreSQL image serves every Barman it pairs with", async () => {
    const with34 = await imagePlans({ postgres: "15", barman: "3.4" });
    const with313 = await imagePlans({ postgres: "15", barman: "3.13" });
    expect(with313.postgres.tag).toBe(with34.postgres.tag);
    expect(with313.barman.tag).not.toBe(with34.barman.tag);
  });

  const onBookworm = /^VERSION_CODENAME=bookworm$/m.test(readFileSync("/etc/os-release", "utf8"));
  test.skipIf(!onBookworm)("a base tag is the hash of its suite, its sources (this machine's own for its suite) and the base packages", async () => {
    const hash = createHash("sha256").update("base").update("\0").update("bookworm host ca-certificates tzdata").update("\0").digest("hex").slice(0, 12);
    expect((await imagePlans(DEFAULT_PLATFORM)).postgres.base).toBe(`pgdrill/debian-base:bookworm-${hash}`);
    expect((await imagePlans(DEFAULT_PLATFORM)).barman.base, "another suite comes from the mirror").toMatch(/^pgdrill\/debian-base:trixie-[0-9a-f]{12}$/);
  });

  test("the build context: Dockerfiles, scripts and the package list, sorted; no TypeScript, nothing under base/", async () => {
    const { files } = await imagePlans(DEFAULT_PLATFORM);
    expect(files).toEqual([
      ".dockerignore",
      "barman/Dockerfile",
      "barman/barman-entrypoint.sh",
      "debian-packages.txt",
      "postgres/Dockerfile",
      "postgres/docker-entrypoint.sh",
    ]);
    for (const file of files) expect(readFileSync(join(CONTAINERS_DIR, file)).length).toBeGreaterThan(0);
  });

  test("a base override names a registry image per suite ({suite}) and changes the image tags", async () => {
    const own = await imagePlans({ postgres: "17", barman: "3.13" });
    const overridden = await imagePlans({ postgres: "17", barman: "3.13" }, "debian:{suite}-slim");
    expect([overridden.postgres.base, overridden.barman.base]).toEqual(["debian:trixie-slim", "debian:trixie-slim"]);
    expect(overridden.postgres.tag).not.toBe(own.postgres.tag);
    expect(overridden.barman.tag).not.toBe(own.barman.tag);
  });
});

describe("explainPackageFailure: a suite that cannot give the packages is one line", () => {
  test.each([
    ["E: Unable to locate package postgresql-19", "Unable to locate package postgresql-19"],
    [
      "Package barman is not available, but is referred to by another package.\nE: Package 'barman' has no installation candidate",
      "Package 'barman' has no installation candidate",
    ],
    [
      "E: Release file for http://deb.debian.org/debian/dists/forky/InRelease is expired (invalid since 2d). Updates for this repository will not be applied.",
      "Release file for http://deb.debian.org/debian/dists/forky/InRelease is expired (invalid since 2d). Updates for this repository will not be applied.",
    ],
  ])("%s", (aptSays, words) => {
    const error = explainPackageFailure("forky", "pgdrill/barman:3.20-abc", new Error(`Building image failed:\n${aptSays}`));
    expect(error.message).toBe(`Debian forky cannot give the packages of pgdrill/barman:3.20-abc here: ${words} (containers/debian-packages.txt lists them)`);
    expect(error.message).not.toContain("\n");
  });

  test("any other failure is returned as it was", () => {
    const original = new Error("no space left on device");
    expect(explainPackageFailure("trixie", "base", original)).toBe(original);
  });
});
