import { describe, expect, test } from "vitest";
import { applyTestcontainersHost, engineEndpoint, portBindAddress } from "../../containers/engine-endpoint.ts";

describe("engineEndpoint: where the engine is and where its ports are reached", () => {
  test("no DOCKER_HOST: the local socket, ports on 127.0.0.1", async () => {
    const endpoint = engineEndpoint({});
    expect(endpoint).toMatchObject({ dockerHost: "unix:///var/run/docker.sock", kind: "local", reachAt: "127.0.0.1" });
    expect(await portBindAddress(endpoint)).toBe("127.0.0.1");
  });

  test("TCP on this machine's loopback is the local engine", async () => {
    const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://127.0.0.1:2375" });
    expect(endpoint.kind).toBe("local");
    expect(await portBindAddress(endpoint)).toBe("127.0.0.1");
  });

  test("a remote engine by address: ports opened on that address and reached there", async () => {
    const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://10.1.2.3:2375" });
    expect(endpoint).toMatchObject({ kind: "remote", reachAt: "10.1.2.3" });
    expect(await portBindAddress(endpoint)).toBe("10.1.2.3");
  });

  test("a remote engine by name (as GitLab's tcp://docker:2375): the name resolved here", async () => {
    const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://localhost:2375", TESTCONTAINERS_HOST_OVERRIDE: "localhost" });
    expect(endpoint).toMatchObject({ kind: "remote", reachAt: "localhost" });
    expect(await portBindAddress(endpoint)).toBe("127.0.0.1");
  });

  test("an engine in a container reached through a published port: the override says where its ports are", async () => {
    const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://127.0.0.1:32774", TESTCONTAINERS_HOST_OVERRIDE: "172.17.0.2" });
    expect(endpoint).toMatchObject({ kind: "remote", reachAt: "172.17.0.2" });
    expect(await portBindAddress(endpoint)).toBe("172.17.0.2");
  });

  test("PGDRILL_BIND_ADDRESS wins, and must be an IP address", async () => {
    expect(await portBindAddress(engineEndpoint({ DOCKER_HOST: "tcp://docker:2375", PGDRILL_BIND_ADDRESS: "0.0.0.0" }))).toBe("0.0.0.0");
    expect(() => engineEndpoint({ PGDRILL_BIND_ADDRESS: "everywhere" })).toThrow(/^PGDRILL_BIND_ADDRESS must be an IP address .* got 'everywhere'\.$/);
  });

  test("a name that does not resolve is one line naming the fix", async () => {
    await expect(portBindAddress(engineEndpoint({ DOCKER_HOST: "tcp://no-such-engine.invalid:2375" }))).rejects.toThrow(
      /^The Docker engine's host 'no-such-engine\.invalid' .* set PGDRILL_BIND_ADDRESS to its IP address\.$/,
    );
  });

  test("a DOCKER_HOST that is not a Docker address is refused in one line", () => {
    expect(() => engineEndpoint({ DOCKER_HOST: "docker:2375" })).toThrow(
      /^DOCKER_HOST must be unix:\/\/\/path\/to\/docker\.sock, tcp:\/\/host:port or ssh:\/\/user@host, got 'docker:2375'\.$/,
    );
  });
});

describe("applyTestcontainersHost", () => {
  test("a local engine: 127.0.0.1; a remote tcp:// engine: left to Testcontainers; ssh://: its host", () => {
    const local: NodeJS.ProcessEnv = {};
    applyTestcontainersHost(local);
    expect(local["TESTCONTAINERS_HOST_OVERRIDE"]).toBe("127.0.0.1");
    const dind: NodeJS.ProcessEnv = { DOCKER_HOST: "tcp://docker:2375" };
    applyTestcontainersHost(dind);
    expect(dind["TESTCONTAINERS_HOST_OVERRIDE"]).toBeUndefined();
    const ssh: NodeJS.ProcessEnv = { DOCKER_HOST: "ssh://ci@engine.example.net" };
    applyTestcontainersHost(ssh);
    expect(ssh["TESTCONTAINERS_HOST_OVERRIDE"]).toBe("engine.example.net");
  });

  test("an override already set is kept", () => {
    const env: NodeJS.ProcessEnv = { TESTCONTAINERS_HOST_OVERRIDE: "172.17.0.2", DOCKER_HOST: "tcp://127.0.0.1:32774" };
    applyTestcontainersHost(env);
    expect(env["TESTCONTAINERS_HOST_OVERRIDE"]).toBe("172.17.0.2");
  });
});
