// Where the Docker engine is, where the drill's published ports are opened on it, and where this
// process reaches them. A local engine (a unix socket, or TCP on this machine's loopback) opens
// them on 127.0.0.1 only. A remote engine (DOCKER_HOST=tcp://host:port, ssh://user@host; GitLab's
// docker:dind service is tcp://docker:2375) opens them on the one address of the engine's host
// that this process reaches it at, as Testcontainers does (TESTCONTAINERS_HOST_OVERRIDE, else the
// host of DOCKER_HOST): never on every interface, unless PGDRILL_BIND_ADDRESS=0.0.0.0 says so
// (only for an engine that is itself a throwaway CI service behind address translation).

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export interface EngineEndpoint {
  /** DOCKER_HOST as given, or the default socket. */
  dockerHost: string;
  /** "local": the engine runs on this machine; "remote": on another host (or a container). */
  kind: "local" | "remote";
  /** The host name or address at which this process reaches published ports. */
  reachAt: string;
  /** PGDRILL_BIND_ADDRESS, when set: the address to open published ports on, on the engine's host. */
  bindOverride: string | undefined;
}

const DEFAULT_SOCKET = "unix:///var/run/docker.sock";
const LOOPBACK = "127.0.0.1";

const isLoopback = (host: string): boolean => host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);

/** Reads DOCKER_HOST, TESTCONTAINERS_HOST_OVERRIDE and PGDRILL_BIND_ADDRESS; a wrong value is one line naming it. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  const dockerHost = env["DOCKER_HOST"] || DEFAULT_SOCKET;
  const bindOverride = env["PGDRILL_BIND_ADDRESS"] || undefined;
  if (bindOverride !== undefined && isIP(bindOverride) === 0)
    throw new Error(
      `PGDRILL_BIND_ADDRESS must be an IP address of the Docker engine's host (such as 10.0.0.5, or 0.0.0.0 for every interface), got '${bindOverride}'.`,
    );
  const override = env["TESTCONTAINERS_HOST_OVERRIDE"] || undefined;
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    throw new Error(`DOCKER_HOST must be unix:///path/to/docker.sock, tcp://host:port or ssh://user@host, got '${dockerHost}'.`);
  }
  switch (url.protocol) {
    case "unix:":
    case "npipe:":
      return { dockerHost, kind: "local", reachAt: override ?? LOOPBACK, bindOverride };
    case "tcp:":
    case "http:":
    case "https:":
    case "ssh:": {
      const host = url.hostname;
      if (!host) throw new Error(`DOCKER_HOST '${dockerHost}' names no host.`);
      // TCP to this machine's loopback is the local engine, unless an override says the ports are
      // elsewhere (an engine in a container, reached through a published port: the drill's own test).
      if (isLoopback(host) && override === undefined) return { dockerHost, kind: "local", reachAt: LOOPBACK, bindOverride };
      return { dockerHost, kind: "remote", reachAt: override ?? host, bindOverride };
    }
    default:
      throw new Error(`DOCKER_HOST must be unix:///path/to/docker.sock, tcp://host:port or ssh://user@host, got '${dockerHost}'.`);
  }
}

/**
 * Sets TESTCONTAINERS_HOST_OVERRIDE where Testcontainers' own detection would be wrong for us:
 * a local engine's ports are on 127.0.0.1 only (inside a container, /.dockerenv, Testcontainers
 * would go to the bridge gateway), and Testcontainers has no host for ssh:// (it would throw
 * "Unsupported protocol"). A remote tcp:// engine is left to Testcontainers (the host of DOCKER_HOST).
 */
export function applyTestcontainersHost(env: NodeJS.ProcessEnv = process.env): void {
  const endpoint = engineEndpoint(env);
  if (env["TESTCONTAINERS_HOST_OVERRIDE"]) return;
  if (endpoint.kind === "local") env["TESTCONTAINERS_HOST_OVERRIDE"] = LOOPBACK;
  else if (endpoint.dockerHost.startsWith("ssh:")) env["TESTCONTAINERS_HOST_OVERRIDE"] = endpoint.reachAt;
}

/**
 * The address on the engine's host to open published ports on: 127.0.0.1 for a local engine; for a
 * remote one, the address this process reaches it at (a name is resolved here, as the connection
 * will be), which is an address of the engine's host when nothing translates addresses between
 * them (a dind service, a VM on a private network). Behind translation, set PGDRILL_BIND_ADDRESS.
 */
export async function portBindAddress(endpoint: EngineEndpoint = engineEndpoint()): Promise<string> {
  if (endpoint.bindOverride) return endpoint.bindOverride;
  if (endpoint.kind === "local") return LOOPBACK;
  const host = endpoint.reachAt.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (error) {
    throw new Error(
      `The Docker engine's host '${host}' (from ${process.env["TESTCONTAINERS_HOST_OVERRIDE"] ? "TESTCONTAINERS_HOST_OVERRIDE" : "DOCKER_HOST"}) does not resolve here (${(error as Error).message}); set PGDRILL_BIND_ADDRESS to its IP address.`,
    );
  }
}

/** One line for the run's log: where the engine is and where its ports are reached. */
export function describeEndpoint(endpoint: EngineEndpoint, bindAddress: string): string {
  return endpoint.kind === "local"
    ? `local engine at ${endpoint.dockerHost}, ports on ${bindAddress}`
    : `remote engine at ${endpoint.dockerHost}, ports opened on its ${bindAddress} and reached at ${endpoint.reachAt}`;
}
