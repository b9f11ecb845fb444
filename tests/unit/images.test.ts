import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { CONTAINERS_DIR, imageTags, packagesFor } from "../../containers/images.ts";

const PACKAGE_LIST = readFileSync(new URL("../../containers/debian-packages.txt", import.meta.url), "utf8");

describe("packagesFor", () => {
  test("the real list: PostgreSQL image", () => {
    expect(packagesFor(PACKAGE_LIST, "postgres")).toEqual([
      "postgresql-15",
      "postgresql-client-15",
      "tzdata",
      "locales",
      "barman-cli",
      "openssh-client",
      "openssh-server",
      "rsync",
      "tini",
    ]);
  });

  test("the real list: Barman image", () => {
    const barman = packagesFor(PACKAGE_LIST, "barman");
    expect(barman).toEqual(["barman", "barman-cli", "postgresql-client-15", "rsync", "tzdata", "openssh-server", "bzip2", "pigz"]);
    expect(barman).not.toContain("postgresql-15");
  });

  test("the real list: base rootfs", () => {
    expect(packagesFor(PACKAGE_LIST, "base")).toEqual(["ca-certificates", "tzdata"]);
  });

  test("an image not in the list has no packages", () => {
    expect(packagesFor(PACKAGE_LIST, "pgbouncer")).toEqual([]);
    expect(packagesFor(PACKAGE_LIST, "")).toEqual([]);
  });

  test("comments, blank lines, indentation and tabs are ignored; the role must match exactly", () => {
    const list = [
      "# header comment",
      "",
      "   ",
      "postgres\tpostgresql-15   # the server",
      "  postgres   postgresql-contrib-15",
      "#postgres  commented-out",
      "postgresql ignored-role",
      "Postgres   wrong-case",
      "barman barman",
    ].join("\n");
    expect(packagesFor(list, "postgres")).toEqual(["postgresql-15", "postgresql-contrib-15"]);
    expect(packagesFor(list, "barman")).toEqual(["barman"]);
  });

  test("Windows line endings do not leak into package names", () => {
    expect(packagesFor("postgres postgresql-15\r\npostgres locales\r\n", "postgres")).toEqual(["postgresql-15", "locales"]);
  });
});

describe("imageTags (reads files only)", () => {
  test("same inputs, same tags, twice", async () => {
    const first = await imageTags();
    const second = await imageTags();
    expect(second).toEqual(first);
  });

  test("tag shapes; PostgreSQL and Barman share the context hash", async () => {
    const { tags } = await imageTags();
    expect(tags.base).toMatch(/^pgdrill\/debian-base:bookworm-[0-9a-f]{12}$/);
    expect(tags.postgres).toMatch(/^pgdrill\/postgres:15-[0-9a-f]{12}$/);
    expect(tags.barman).toMatch(/^pgdrill\/barman:3\.4-[0-9a-f]{12}$/);
    expect(tags.postgres.slice(-12)).toBe(tags.barman.slice(-12));
  });

  test("the base tag is the hash of the base packages only", async () => {
    const hash = createHash("sha256").update("base").update("\0").update("ca-certificates tzdata").update("\0").digest("hex").slice(0, 12);
    expect((await imageTags()).tags.base).toBe(`pgdrill/debian-base:bookworm-${hash}`);
  });

  test("the build context: Dockerfiles, scripts and the package list, sorted; no TypeScript, nothing under base/", async () => {
    const { files } = await imageTags();
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

  test("a base override is used as is and changes the PostgreSQL and Barman tags", async () => {
    const own = await imageTags();
    const overridden = await imageTags("debian:bookworm-slim");
    expect(overridden.tags.base).toBe("debian:bookworm-slim");
    expect(overridden.tags.postgres).not.toBe(own.tags.postgres);
    expect(overridden.tags.barman).not.toBe(own.tags.barman);
    expect(overridden.files).toEqual(own.files);
    expect(await imageTags("debian:bookworm-slim")).toEqual(overridden);
    expect((await imageTags("debian:12")).tags.postgres).not.toBe(overridden.tags.postgres);
  });
});
