// The CRI client: the only module in agent/ that imports @grpc/grpc-js and @grpc/proto-loader.
// It owns the connection to the runtime's unix socket, a deadline on every call, the mapping of
// gRPC failures to CriError, the recovery after a runtime restart and a debug log line per call.
// Assumes a unix socket endpoint (no TCP, no TLS). Failed calls are not retried (the agent's loops
// call again on their next pass), except containerd's "not initialized yet" right after a restart.
//
// Decisions:
// - Restarts: calls carry `waitForReady` (a Metadata option in grpc-js) and the channel's reconnect
//   backoff is 100 ms..1 s, so the first call after containerd is back succeeds instead of failing
//   fast in TRANSIENT_FAILURE for up to two minutes (grpc-js's default maximum backoff).
// - Missing socket: waitForReady would sit until the deadline, so every call first stats the socket
//   path (a few microseconds) and fails at once with kind 'unavailable' naming the path when it is
//   absent or not a socket. containerd removes its socket while down, so calls during a restart
//   fail fast too. A socket file nobody listens on (runtime killed with SIGKILL) is only noticed at
//   the deadline; that DEADLINE_EXCEEDED is reported as 'unavailable' because the channel never
//   became ready.
// - Proto: proto/runtime/v1/api.proto is read at run time. First next to the bundle
//   (dist/moor.mjs -> dist/proto, copied there by scripts/build.mjs), then from the source tree
//   (agent/cri/ -> ../../proto), then the package's proto/ beside dist/.

import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import {
  containerConfigToWire,
  containerFilterToWire,
  containerFromWire,
  containerStatsFilterToWire,
  containerStatsFromWire,
  containerStatusFromWire,
  execSyncFromWire,
  filesystemUsageFromWire,
  imageFromWire,
  imageSpecToWire,
  podSandboxConfigToWire,
  podSandboxFilterToWire,
  podSandboxFromWire,
  podSandboxStatusFromWire,
  resourcesToWire,
  statusFromWire,
  versionFromWire,
  wireList,
  wireMessage,
  type Wire,
} from './convert.ts';
import { decodeContainerStates, decodeSandboxStates } from './list-states.ts';
import { CriError, GrpcCode, isNotInitialized, toCriError } from './errors.ts';
import type { CriClient, ImageSpec } from './types.ts';

export interface CriClientOptions {
  /** unix:///path/to.sock (kubelet's --container-runtime-endpoint form) or an absolute socket path. */
  readonly endpoint: string;
  /** Deadline of every call except the ones below. Default 30 s. */
  readonly timeoutMs?: number;
  /** Deadline of PullImage. Default 5 min. */
  readonly pullTimeoutMs?: number;
  readonly log?: Logger;
  /** Where api.proto is; found automatically by default. */
  readonly protoPath?: string;
  /** Told about every finished call (for metrics): the RPC name, its duration, and whether it failed. */
  readonly onCall?: (method: string, durationMs: number, failed: boolean) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_PULL_TIMEOUT_MS = 5 * 60_000;
/** kubelet's limit too: large nodes list many containers, ExecSync returns whole outputs. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const NOT_INITIALIZED_RETRY_MS = 50;
/** An empty request message: the unfiltered list requests of the relist. */
const EMPTY = Buffer.alloc(0);

const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

/** The socket path of a unix endpoint; throws a CriError (invalid) for anything else. */
export function parseEndpoint(endpoint: string): string {
  let path: string | undefined;
  if (endpoint.startsWith('unix://')) path = endpoint.slice('unix://'.length);
  else if (endpoint.startsWith('unix:')) path = endpoint.slice('unix:'.length);
  else if (endpoint.startsWith('/')) path = endpoint;
  if (path === undefined || !path.startsWith('/')) {
    throw new CriError({
      method: 'Connect',
      target: endpoint,
      grpcCode: GrpcCode.INVALID_ARGUMENT,
      details: 'endpoint must be unix:///absolute/path.sock',
    });
  }
  return path;
}

/** The proto file: an explicit path, else dist/proto next to the bundle, else proto/ of the source tree. */
export function findProtoPath(explicit?: string): string {
  if (explicit !== undefined) return explicit;
  const candidates = ['./proto/runtime/v1/api.proto', '../../proto/runtime/v1/api.proto', '../proto/runtime/v1/api.proto'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`load cri proto: api.proto not found in ${candidates.join(', ')}`);
  return found;
}

type ServiceCtor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client;

const definitions = new Map<string, protoLoader.PackageDefinition>();

/**
 * The loaded proto with the options the client decodes with (camelCase, int64 as strings, enums as
 * names, defaults filled in). Exported for tests that encode and decode exactly as the client does.
 */
export function loadCriDefinition(protoPath?: string): protoLoader.PackageDefinition {
  const path = findProtoPath(protoPath);
  let definition = definitions.get(path);
  if (definition === undefined) {
    definition = protoLoader.loadSync(path, LOADER_OPTIONS);
    definitions.set(path, definition);
  }
  return definition;
}

function loadServices(protoPath: string | undefined): { runtime: ServiceCtor; image: ServiceCtor } {
  const pkg = grpc.loadPackageDefinition(loadCriDefinition(protoPath)) as unknown as { runtime: { v1: { RuntimeService: ServiceCtor; ImageService: ServiceCtor } } };
  return { runtime: pkg.runtime.v1.RuntimeService, image: pkg.runtime.v1.ImageService };
}

type UnaryMethod = (
  request: Wire,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: Wire) => void,
) => grpc.ClientUnaryCall;

interface CallSpec<T = Wire> {
  readonly service: 'runtime' | 'image';
  /** RPC name as in the proto. */
  readonly method: string;
  readonly request: Wire;
  /**
   * Decode the response bytes with this instead of the proto's message type (the request is then
   * sent empty: only unfiltered lists use it).
   */
  readonly decode?: (buf: Buffer) => T;
  /** The id or reference the call is about, for logs and error messages. */
  readonly target?: string;
  readonly timeoutMs?: number;
}

/**
 * A client for a CRI runtime (containerd) on a unix socket. Construction does not connect; each
 * call checks the socket, connects if needed and fails with a CriError.
 */
export function createCriClient(opts: CriClientOptions): CriClient {
  const socketPath = parseEndpoint(opts.endpoint);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pullTimeoutMs = opts.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
  const log = opts.log ?? silentLogger();
  const services = loadServices(opts.protoPath);

  const channelOptions: grpc.ClientOptions = {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  };
  const runtimeClient = new services.runtime(`unix://${socketPath}`, grpc.credentials.createInsecure(), channelOptions);
  const imageClient = new services.image(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
    ...channelOptions,
    channelOverride: runtimeClient.getChannel(),
  });
  let closed = false;

  /** Fail fast (kind 'unavailable') when the socket is not there: waitForReady would wait out the deadline. */
  function checkSocket(method: string, target: string | undefined): void {
    let problem: string | undefined;
    try {
      if (!statSync(socketPath).isSocket()) problem = `connect ${socketPath}: not a socket`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problem = code === 'ENOENT' ? `connect ${socketPath}: socket does not exist` : `connect ${socketPath}: ${code ?? String(err)}`;
    }
    if (problem !== undefined) throw new CriError({ method, target, grpcCode: GrpcCode.UNAVAILABLE, details: problem });
  }

  /** One RPC attempt with an absolute deadline. */
  function attempt<T>(spec: CallSpec<T>, deadline: number): Promise<T> {
    const client = spec.service === 'runtime' ? runtimeClient : imageClient;
    const decode = spec.decode;
    if (decode !== undefined) {
      const path = `/runtime.v1.${spec.service === 'runtime' ? 'RuntimeService' : 'ImageService'}/${spec.method}`;
      return new Promise<T>((resolve, reject) => {
        const metadata = new grpc.Metadata({ waitForReady: true });
        client.makeUnaryRequest(path, () => EMPTY, decode, {}, metadata, { deadline }, (err, res) => {
          if (err) reject(err);
          else resolve(res as T);
        });
      });
    }
    const fn = (client as unknown as Record<string, UnaryMethod>)[spec.method];
    if (typeof fn !== 'function') return Promise.reject(new Error(`no rpc ${spec.method} in the cri proto`));
    return new Promise<T>((resolve, reject) => {
      const metadata = new grpc.Metadata({ waitForReady: true });
      fn.call(client, spec.request, metadata, { deadline }, (err, res) => {
        if (err) reject(err);
        else resolve((res ?? {}) as T);
      });
    });
  }

  /**
   * A call with its deadline. The one retry owned here: right after a restart containerd answers
   * "server is not initialized yet" while it reloads its state; that is retried every
   * NOT_INITIALIZED_RETRY_MS within the same deadline, so callers only see it if it outlasts the call.
   */
  async function call<T = Wire>(spec: CallSpec<T>): Promise<T> {
    const started = performance.now();
    const callTimeoutMs = spec.timeoutMs ?? timeoutMs;
    const deadline = Date.now() + callTimeoutMs;
    let retries = 0;
    for (;;) {
      try {
        if (closed) throw new CriError({ method: spec.method, target: spec.target, grpcCode: GrpcCode.CANCELLED, details: 'client is closed' });
        checkSocket(spec.method, spec.target);
        const response = await attempt(spec, deadline);
        const durationMs = performance.now() - started;
        opts.onCall?.(spec.method, durationMs, false);
        log.debug({ method: spec.method, target: spec.target, durationMs: round(durationMs), retries }, 'cri call');
        return response;
      } catch (err) {
        const criError = classify(err, spec, callTimeoutMs);
        if (isNotInitialized(criError) && Date.now() + NOT_INITIALIZED_RETRY_MS < deadline) {
          retries++;
          await sleep(NOT_INITIALIZED_RETRY_MS);
          continue;
        }
        opts.onCall?.(spec.method, performance.now() - started, true);
        log.debug(
          { method: spec.method, target: spec.target, durationMs: round(performance.now() - started), retries, kind: criError.kind, grpcCode: criError.grpcCode },
          'cri call failed',
        );
        throw criError;
      }
    }
  }

  function classify(err: unknown, spec: CallSpec<unknown>, callTimeoutMs: number): CriError {
    const criError = toCriError(err, { method: spec.method, target: spec.target });
    if (criError.grpcCode === GrpcCode.DEADLINE_EXCEEDED) {
      const state = runtimeClient.getChannel().getConnectivityState(false);
      if (state !== grpc.connectivityState.READY) {
        return new CriError({
          method: spec.method,
          target: spec.target,
          grpcCode: criError.grpcCode,
          kind: 'unavailable',
          details: `runtime at ${socketPath} not reachable within ${callTimeoutMs} ms (channel ${grpc.connectivityState[state]}): ${criError.details}`,
          cause: err,
        });
      }
    }
    return criError;
  }

  const image = (ref: string | ImageSpec): string => (typeof ref === 'string' ? ref : ref.image);

  return {
    endpoint: opts.endpoint,

    close() {
      if (closed) return;
      closed = true;
      runtimeClient.close();
    },

    async version() {
      return versionFromWire(await call({ service: 'runtime', method: 'Version', request: { version: 'v1' } }));
    },

    async status(o) {
      return statusFromWire(await call({ service: 'runtime', method: 'Status', request: { verbose: o?.verbose ?? false } }));
    },

    async runPodSandbox(config, o) {
      const target = `${config.metadata.namespace}/${config.metadata.name}`;
      const res = await call({ service: 'runtime', method: 'RunPodSandbox', target, request: { config: podSandboxConfigToWire(config), runtimeHandler: o?.runtimeHandler ?? '' } });
      return String(res.podSandboxId ?? '');
    },

    async stopPodSandbox(podSandboxId) {
      await call({ service: 'runtime', method: 'StopPodSandbox', target: podSandboxId, request: { podSandboxId } });
    },

    async removePodSandbox(podSandboxId) {
      await call({ service: 'runtime', method: 'RemovePodSandbox', target: podSandboxId, request: { podSandboxId } });
    },

    async podSandboxStatus(podSandboxId, o) {
      const res = await call({ service: 'runtime', method: 'PodSandboxStatus', target: podSandboxId, request: { podSandboxId, verbose: o?.verbose ?? false } });
      return podSandboxStatusFromWire(res);
    },

    async listPodSandbox(filter) {
      const res = await call({ service: 'runtime', method: 'ListPodSandbox', request: { filter: podSandboxFilterToWire(filter) } });
      return wireList(res.items).map((w) => podSandboxFromWire(wireMessage(w) ?? {}));
    },

    listPodSandboxStates(label) {
      return call({ service: 'runtime', method: 'ListPodSandbox', request: {}, decode: (buf) => decodeSandboxStates(buf, label) });
    },

    async createContainer(podSandboxId, config, sandboxConfig) {
      const res = await call({
        service: 'runtime',
        method: 'CreateContainer',
        target: `${podSandboxId}/${config.metadata.name}`,
        request: { podSandboxId, config: containerConfigToWire(config), sandboxConfig: podSandboxConfigToWire(sandboxConfig) },
      });
      return String(res.containerId ?? '');
    },

    async startContainer(containerId) {
      await call({ service: 'runtime', method: 'StartContainer', target: containerId, request: { containerId } });
    },

    async stopContainer(containerId, timeoutSeconds) {
      // The runtime waits up to timeoutSeconds before SIGKILL: the deadline must outlast that.
      await call({ service: 'runtime', method: 'StopContainer', target: containerId, request: { containerId, timeout: timeoutSeconds }, timeoutMs: timeoutMs + timeoutSeconds * 1000 });
    },

    async removeContainer(containerId) {
      await call({ service: 'runtime', method: 'RemoveContainer', target: containerId, request: { containerId } });
    },

    async listContainers(filter) {
      const res = await call({ service: 'runtime', method: 'ListContainers', request: { filter: containerFilterToWire(filter) } });
      return wireList(res.containers).map((w) => containerFromWire(wireMessage(w) ?? {}));
    },

    listContainerStates(label) {
      return call({ service: 'runtime', method: 'ListContainers', request: {}, decode: (buf) => decodeContainerStates(buf, label) });
    },

    async containerStatus(containerId, o) {
      const res = await call({ service: 'runtime', method: 'ContainerStatus', target: containerId, request: { containerId, verbose: o?.verbose ?? false } });
      return containerStatusFromWire(res);
    },

    async updateContainerResources(containerId, resources) {
      await call({ service: 'runtime', method: 'UpdateContainerResources', target: containerId, request: { containerId, linux: resourcesToWire(resources) } });
    },

    async reopenContainerLog(containerId) {
      await call({ service: 'runtime', method: 'ReopenContainerLog', target: containerId, request: { containerId } });
    },

    async execSync(containerId, cmd, timeoutSeconds) {
      // The runtime enforces timeoutSeconds (DEADLINE_EXCEEDED after it); our deadline comes later
      // so that the runtime's answer, not ours, is what the caller sees.
      const res = await call({
        service: 'runtime',
        method: 'ExecSync',
        target: containerId,
        request: { containerId, cmd: [...cmd], timeout: timeoutSeconds },
        timeoutMs: timeoutMs + timeoutSeconds * 1000,
      });
      return execSyncFromWire(res);
    },

    async exec(r) {
      const res = await call({
        service: 'runtime',
        method: 'Exec',
        target: r.containerId,
        request: { containerId: r.containerId, cmd: [...r.cmd], tty: r.tty ?? false, stdin: r.stdin ?? false, stdout: r.stdout ?? true, stderr: r.stderr ?? !(r.tty ?? false) },
      });
      return String(res.url ?? '');
    },

    async attach(r) {
      const res = await call({
        service: 'runtime',
        method: 'Attach',
        target: r.containerId,
        request: { containerId: r.containerId, tty: r.tty ?? false, stdin: r.stdin ?? false, stdout: r.stdout ?? true, stderr: r.stderr ?? !(r.tty ?? false) },
      });
      return String(res.url ?? '');
    },

    async portForward(podSandboxId, ports) {
      const res = await call({ service: 'runtime', method: 'PortForward', target: podSandboxId, request: { podSandboxId, port: [...ports] } });
      return String(res.url ?? '');
    },

    async containerStats(containerId) {
      const res = await call({ service: 'runtime', method: 'ContainerStats', target: containerId, request: { containerId } });
      return containerStatsFromWire(res.stats);
    },

    async listContainerStats(filter) {
      const res = await call({ service: 'runtime', method: 'ListContainerStats', request: { filter: containerStatsFilterToWire(filter) } });
      return wireList(res.stats).map(containerStatsFromWire);
    },

    async updateRuntimeConfig(podCidr) {
      await call({ service: 'runtime', method: 'UpdateRuntimeConfig', request: { runtimeConfig: { networkConfig: { podCidr } } } });
    },

    async pullImage(ref, o) {
      const res = await call({
        service: 'image',
        method: 'PullImage',
        target: image(ref),
        request: { image: imageSpecToWire(ref), auth: o?.auth, sandboxConfig: o?.sandboxConfig === undefined ? undefined : podSandboxConfigToWire(o.sandboxConfig) },
        timeoutMs: pullTimeoutMs,
      });
      return String(res.imageRef ?? '');
    },

    async imageStatus(ref) {
      const res = await call({ service: 'image', method: 'ImageStatus', target: image(ref), request: { image: imageSpecToWire(ref), verbose: false } });
      const found = wireMessage(res.image);
      return found === undefined ? undefined : imageFromWire(found);
    },

    async listImages(filter) {
      const res = await call({ service: 'image', method: 'ListImages', request: { filter: filter === undefined ? undefined : { image: imageSpecToWire(filter) } } });
      const images = wireList(res.images).map((w) => imageFromWire(wireMessage(w) ?? {}));
      // containerd 1.6 ignores the filter and lists everything: apply it here as well.
      const ref = filter === undefined ? '' : image(filter);
      return ref === '' ? images : images.filter((i) => i.id === ref || i.id === `sha256:${ref}` || i.repoTags.includes(ref) || i.repoDigests.includes(ref));
    },

    async removeImage(ref) {
      await call({ service: 'image', method: 'RemoveImage', target: image(ref), request: { image: imageSpecToWire(ref) } });
    },

    async imageFsInfo() {
      const res = await call({ service: 'image', method: 'ImageFsInfo', request: {} });
      return wireList(res.imageFilesystems).map(filesystemUsageFromWire);
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
