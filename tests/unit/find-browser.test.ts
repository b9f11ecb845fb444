import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findBrowser } from "../report/find-browser.ts";

let dir: string;
const fakeBinary = async (name: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, "#!/bin/sh\n");
  await chmod(path, 0o755);
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pgdrill-browser-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("findBrowser: the Chrome or Chromium the report check drives", () => {
  test("Google Chrome on PATH, as on GitHub's hosted runners", async () => {
    const chrome = await fakeBinary("google-chrome");
    expect(findBrowser({ PATH: `/nonexistent:${dir}` })).toBe(chrome);
  });

  test("Chromium is preferred to Chrome when both are there", async () => {
    const chromium = await fakeBinary("chromium");
    expect(findBrowser({ PATH: dir })).toBe(chromium);
  });

  test("PGDRILL_CHROMIUM wins, and must be executable", async () => {
    const mine = await fakeBinary("my-chrome");
    expect(findBrowser({ PATH: dir, PGDRILL_CHROMIUM: mine })).toBe(mine);
    expect(() => findBrowser({ PGDRILL_CHROMIUM: join(dir, "missing") })).toThrow(
      /^PGDRILL_CHROMIUM=.*missing is not an executable file; point it at a Chrome or Chromium binary\.$/,
    );
  });

  test("none: one line saying what to do", () => {
    expect(() => findBrowser({ PATH: "/nonexistent" })).toThrow(
      /^No Chrome or Chromium on PATH \(looked for chromium, chromium-browser, google-chrome, google-chrome-stable\): install one .* or set PGDRILL_CHROMIUM to its binary\.$/,
    );
  });
});
