import { describe, expect, test } from "vitest";
import { DEFAULT_PLATFORM, PlatformError, resolvePlatform, SUPPORTED_PAIRS } from "../../containers/platforms.ts";

describe("platforms: the supported pairs, declared in one place", () => {
  test("Barman 3.4 takes PostgreSQL 15 only; 3.13 up to 17; 3.20 up to 18", () => {
    expect(SUPPORTED_PAIRS.map((p) => `${p.postgres}+${p.barman}`)).toEqual(["15+3.4", "15+3.13", "15+3.20", "17+3.13", "17+3.20", "18+3.20"]);
  });

  test("the default is the seed's PostgreSQL 15", () => {
    expect(resolvePlatform({}, {})).toEqual(DEFAULT_PLATFORM);
    expect(DEFAULT_PLATFORM.postgres).toBe("15");
  });

  test("environment over configuration fields over the shorthand", () => {
    expect(resolvePlatform({ platform: "pg17-barman3.13" }, {})).toEqual({ postgres: "17", barman: "3.13" });
    expect(resolvePlatform({ platform: "pg17-barman3.13", barman: "3.20" }, {})).toEqual({ postgres: "17", barman: "3.20" });
    expect(resolvePlatform({ postgres: "17", barman: "3.13" }, { PGDRILL_POSTGRES: "18", PGDRILL_BARMAN: "3.20" })).toEqual({ postgres: "18", barman: "3.20" });
  });

  test.each([
    [{ postgres: "16" }, "PostgreSQL 16 is not available; the drill builds PostgreSQL 15, 17, 18 (Debian has no PostgreSQL 16)"],
    [{ barman: "3.5" }, "Barman 3.5 is not available; the drill builds Barman 3.4, 3.13, 3.20"],
    [
      { postgres: "17", barman: "3.4" },
      "PostgreSQL 17 + Barman 3.4 is not a supported pair: Barman 3.4's PostgreSQL 15 client tools cannot back up PostgreSQL 17; supported pairs: PostgreSQL 15 + Barman 3.4, PostgreSQL 15 + Barman 3.13, PostgreSQL 15 + Barman 3.20, PostgreSQL 17 + Barman 3.13, PostgreSQL 17 + Barman 3.20, PostgreSQL 18 + Barman 3.20",
    ],
    [
      { platform: "postgres17" },
      "platform 'postgres17' is not of the form pg<major>-barman<version>; supported: pg15-barman3.4, pg15-barman3.13, pg15-barman3.20, pg17-barman3.13, pg17-barman3.20, pg18-barman3.20",
    ],
  ])("%j is one line saying what exists", (config, message) => {
    expect(() => resolvePlatform(config, {})).toThrow(new PlatformError(message));
  });
});
