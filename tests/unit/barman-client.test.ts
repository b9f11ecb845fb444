import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { barmanJsonErrors, barmanRestoreVerb } from "../../containers/barman/barman-client.ts";

const sample = (name: string): string => readFileSync(new URL(`./samples/${name}`, import.meta.url), "utf8");

describe("barmanRestoreVerb: `recover` became `restore` in Barman 3.12", () => {
  test.each([
    ["3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)", "recover"],
    ["3.11.1 Barman by EnterpriseDB (www.enterprisedb.com)", "recover"],
    ["3.12.0 Barman by EnterpriseDB (www.enterprisedb.com)", "restore"],
    [sample("barman-3.13-version.txt").split("\n")[0]!, "restore"],
    [sample("barman-3.20-version.txt").split("\n")[0]!, "restore"],
    ["4.0.0", "restore"],
  ])("%s -> %s", (version, verb) => {
    expect(barmanRestoreVerb(version)).toBe(verb);
  });

  test("a line without a version is refused with its text", () => {
    expect(() => barmanRestoreVerb("command not found")).toThrow("cannot read a Barman version from 'command not found'");
  });
});

describe("barmanJsonErrors", () => {
  test.each(["3.13", "3.20"])("Barman %s: an unknown server, in Barman's words", (version) => {
    expect(barmanJsonErrors(sample(`barman-${version}-show-backup-nosuch.json`))).toEqual(["Unknown server 'nosuch'"]);
  });

  test("no _ERROR key, or no JSON at all: no errors", () => {
    expect(barmanJsonErrors('{"pg": {}}')).toEqual([]);
    expect(barmanJsonErrors("not json")).toEqual([]);
  });
});
