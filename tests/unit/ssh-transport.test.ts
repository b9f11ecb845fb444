// The SSH transport's pure parts: the ssh command line (strict host keys, no prompts, quoting for
// the remote shell), the refusal of unsafe targets, and ssh's failures in words a DBA acts on.
import { describe, expect, test } from "vitest";
import { explainSshFailure, SshConnectionError, SshTransport, shellQuote, sshArgv, validateSshTarget } from "../../containers/barman/ssh-transport.ts";

/** What every ssh command line carries: strict host keys, no prompts, a bounded connect, keep-alives. */
const ALWAYS = [
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=yes",
  "-o",
  "ConnectTimeout=10",
  "-o",
  "ServerAliveInterval=5",
  "-o",
  "ServerAliveCountMax=3",
];

describe("sshArgv", () => {
  test("strict host key checking, batch mode, keep-alives; port, key and known_hosts when given; the remote command quoted", () => {
    expect(
      sshArgv({ destination: "barman@backup-host", port: 2222, identityFile: "/k/id", knownHostsFile: "/k/known" }, ["barman", "-f", "json", "list-server"]),
    ).toEqual([
      ...ALWAYS,
      "-p",
      "2222",
      "-i",
      "/k/id",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "UserKnownHostsFile=/k/known",
      "--",
      "barman@backup-host",
      "barman -f json list-server",
    ]);
  });

  test("never accepts a host key on its own", () => {
    const argv = sshArgv({ destination: "backup-host" }, ["true"]).join(" ");
    expect(argv).not.toMatch(/StrictHostKeyChecking=(no|accept-new)/);
    expect(argv).toContain("StrictHostKeyChecking=yes");
  });

  test("the user's ssh config decides what is not given (no -p, -i or known_hosts)", () => {
    expect(sshArgv({ destination: "backup" }, ["true"])).toEqual([...ALWAYS, "--", "backup", "true"]);
  });
});

describe("shellQuote", () => {
  test.each([
    ["plain", "plain"],
    ["/var/tmp/pgdrill-verify-x", "/var/tmp/pgdrill-verify-x"],
    ["2026-11-25 08:29:31+00", "'2026-11-25 08:29:31+00'"],
    ["it's", "'it'\\''s'"],
    ["$(reboot)", "'$(reboot)'"],
    ["", "''"],
  ])("%s -> %s", (arg, quoted) => {
    expect(shellQuote(arg)).toBe(quoted);
  });
});

describe("validateSshTarget", () => {
  test("refuses what ssh would read as an option, and bad ports and paths", () => {
    expect(validateSshTarget({ destination: "barman@backup-host", port: 22 })).toEqual([]);
    expect(validateSshTarget({ destination: "-oProxyCommand=x" })).toEqual(["'-oProxyCommand=x' is not an SSH destination such as barman@backup-host"]);
    expect(validateSshTarget({ destination: "barman@host; rm" })[0]).toMatch(/is not an SSH destination/);
    expect(validateSshTarget({ destination: "h", port: 70000 })).toEqual(["SSH port 70000 is not a port number (1-65535)"]);
    expect(validateSshTarget({ destination: "h", identityFile: "/my keys/id" })).toEqual([
      "identity file '/my keys/id' must be a path without spaces or quotes",
    ]);
    expect(() => new SshTransport({ destination: "-x" })).toThrow(SshConnectionError);
  });

  test("root is refused over SSH, in words", async () => {
    const transport = new SshTransport({ destination: "barman@h" }, { sshCommand: "/nonexistent/ssh" });
    await expect(transport.run(["rm", "-rf", "/x"], { user: "root" })).rejects.toThrow(/would need root on the Barman server \(SSH barman@h\)/);
  });

  test("a missing ssh client is one line", async () => {
    const transport = new SshTransport({ destination: "barman@h" }, { sshCommand: "/nonexistent/ssh" });
    await expect(transport.run(["true"])).rejects.toThrow(/^cannot run ssh \(the OpenSSH client\): spawn \/nonexistent\/ssh ENOENT$/);
  });
});

describe("explainSshFailure", () => {
  const target = { destination: "barman@backup", port: 2222 };
  test("a remote command's own failure is not ssh's", () => {
    expect(explainSshFailure(target, 1, "barman: error")).toBeUndefined();
  });
  test.each([
    ["Host key verification failed.", /refused: its host key is not in known_hosts/],
    [
      "No ED25519 host key is known for [backup]:2222 and you have requested strict checking.\nHost key verification failed.",
      /refused: its host key is not in known_hosts/,
    ],
    ["@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.", /refused: the host key has CHANGED/],
    [
      "barman@backup: Permission denied (publickey).",
      /^SSH to barman@backup port 2222: permission denied \(wrong user or key\): barman@backup: Permission denied \(publickey\)\.$/,
    ],
    [
      "ssh: connect to host backup port 2222: Connection refused",
      /^SSH to barman@backup port 2222 failed: ssh: connect to host backup port 2222: Connection refused$/,
    ],
    ["Connection to backup closed by remote host.", /failed: Connection to backup closed by remote host\.$/],
    ["something else", /failed \(exit 255\): something else$/],
  ])("%s", (stderr, message) => {
    expect(explainSshFailure(target, 255, stderr)).toMatch(message);
  });
});
