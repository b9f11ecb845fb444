import { hostname } from "node:os";
import { describe, expect, test, vi } from "vitest";

// Stands in for dockerode to count clients: importing the module must not create one.
const constructed = vi.hoisted(() => ({ count: 0 }));
vi.mock("dockerode", () => ({
  default: class FakeDockerode {
    constructor() {
      constructed.count += 1;
    }
  },
}));

import { demultiplex, docker, LABEL_HOST, LABEL_OWNED, LABEL_PID, LABEL_RUN, manualCleanupCommands, runLabels } from "../../containers/docker-resources.ts";

/** One frame of Docker's multiplexed log stream: [stream, 0, 0, 0, size (uint32 BE), payload]. */
function frame(stream: 0 | 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const header = Buffer.from([stream, 0, 0, 0, 0, 0, 0, 0]);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe("docker() client", () => {
  test("no client is created by importing the module, one on first use, then reused", () => {
    expect(constructed.count).toBe(0);
    const first = docker();
    expect(constructed.count).toBe(1);
    expect(docker()).toBe(first);
    expect(constructed.count).toBe(1);
  });
});

describe("demultiplex", () => {
  test("the frame helper writes the header Docker writes", () => {
    expect([...frame(1, "hi")]).toEqual([1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
  });

  test("stdout and stderr frames, interleaved in recorded order", () => {
    const raw = Buffer.concat([
      frame(1, "2026-11-25 08:29:37.024 UTC [1] LOG:  starting PostgreSQL 15.20\n"),
      frame(2, "cp: cannot stat 'barman_wal/00000002.history': No such file or directory\n"),
      frame(1, "2026-11-25 08:29:38.467 UTC [1] LOG:  database system is ready to accept connections\n"),
    ]);
    expect(demultiplex(raw)).toBe(
      "2026-11-25 08:29:37.024 UTC [1] LOG:  starting PostgreSQL 15.20\n" +
        "cp: cannot stat 'barman_wal/00000002.history': No such file or directory\n" +
        "2026-11-25 08:29:38.467 UTC [1] LOG:  database system is ready to accept connections\n",
    );
  });

  test("a frame larger than 255 bytes (size uses more than the last header byte)", () => {
    const line = `${"x".repeat(70_000)}\n`;
    const raw = Buffer.concat([frame(1, line), frame(2, "tail\n")]);
    expect(raw.readUInt32BE(4)).toBe(70_001);
    expect(demultiplex(raw)).toBe(`${line}tail\n`);
  });

  test("a UTF-8 character split across two frames is decoded whole", () => {
    const bytes = Buffer.from("données ✓\n", "utf8");
    const cut = bytes.indexOf(0xc3) + 1; // inside "é"
    const raw = Buffer.concat([frame(1, bytes.subarray(0, cut)), frame(1, bytes.subarray(cut))]);
    expect(demultiplex(raw)).toBe("données ✓\n");
  });

  test("an empty frame contributes nothing", () => {
    expect(demultiplex(Buffer.concat([frame(1, ""), frame(1, "a\n")]))).toBe("a\n");
  });

  test("a truncated last frame keeps what arrived", () => {
    const whole = frame(1, "complete line\n");
    const raw = Buffer.concat([frame(2, "first\n"), whole.subarray(0, whole.length - 6)]);
    expect(demultiplex(raw)).toBe("first\ncomplete"); // 14-byte payload cut by 6: "complete"
  });

  test("plain text (TTY container or already demultiplexed) is returned as is", () => {
    const text = "2026-11-25 08:29:37.024 UTC [1] LOG:  starting PostgreSQL 15.20\nsecond line\n";
    expect(demultiplex(Buffer.from(text, "utf8"))).toBe(text);
  });

  test("plain text shorter than a header, and empty output", () => {
    expect(demultiplex(Buffer.from("ok\n"))).toBe("ok\n");
    expect(demultiplex(Buffer.alloc(0))).toBe("");
  });

  test("a first byte above 2 or a non-zero second byte means plain text", () => {
    const notAFrame = Buffer.from([3, 0, 0, 0, 0, 0, 0, 1, 0x41]);
    expect(demultiplex(notAFrame)).toBe(notAFrame.toString("utf8"));
    const alsoNot = Buffer.from([1, 7, 0, 0, 0, 0, 0, 1, 0x41]);
    expect(demultiplex(alsoNot)).toBe(alsoNot.toString("utf8"));
  });
});

describe("labels and manual clean-up", () => {
  test("label names", () => {
    expect([LABEL_OWNED, LABEL_RUN, LABEL_PID, LABEL_HOST]).toEqual(["io.pgdrill", "io.pgdrill.run", "io.pgdrill.pid", "io.pgdrill.host"]);
  });

  test("runLabels with an explicit owner", () => {
    expect(runLabels("20261125-a2767c", 4242)).toEqual({
      "io.pgdrill": "true",
      "io.pgdrill.run": "20261125-a2767c",
      "io.pgdrill.pid": "4242",
      "io.pgdrill.host": hostname(),
    });
  });

  test("runLabels defaults the owner to this process", () => {
    expect(runLabels("r1")["io.pgdrill.pid"]).toBe(String(process.pid));
  });

  test("manualCleanupCommands: containers (with volumes), then network, then volumes of that run only", () => {
    expect(manualCleanupCommands("20261125-a2767c")).toEqual([
      "docker rm -f -v $(docker ps -aq --filter label=io.pgdrill.run=20261125-a2767c)",
      "docker network rm $(docker network ls -q --filter label=io.pgdrill.run=20261125-a2767c)",
      "docker volume rm $(docker volume ls -q --filter label=io.pgdrill.run=20261125-a2767c)",
    ]);
  });

  test("no client was needed for any of this", () => {
    expect(constructed.count).toBe(1); // only the explicit docker() call above
  });
});
