// The agent under test against a real containerd rig: in-process (an Agent object) or as a child
// process (`node --import tsx cli/moor.ts agent ...`). Each harness has its own manifest, root and
// log directories and its own cgroup root, all removed at teardown (the rig's stop() removes the
// sandboxes). Short periods and backoffs keep the scenarios quick.

import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir, rename, rm, rmdir, writeFile, readFile, open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { Agent } from '../../../agent/agent.ts';
import { buildConfig } from '../../../agent/config.ts';
import { createAgentMetrics } from '../../../agent/metrics.ts';
import { removeMountsUnder } from '../../../agent/host/mount.ts';
import type { Pod } from '../../../agent/pod/types.ts';
import { createLogger, silentLogger } from '../../../common/log.ts';
import { waitFor } from '../../../common/wait.ts';
import type { ContainerdRig } from '../../helpers/containerd-rig.ts';

export const NODE = 'itest';
export const REPO_ROOT = new URL('../../../', import.meta.url).pathname;

export interface Dirs {
  readonly base: string;
  readonly manifests: string;
  readonly root: string;
  readonly logs: string;
  readonly cgroupRoot: string;
}

/**
 * Fresh directories and a cgroup root; removed (tmpfs mounts and cgroups included) at teardown.
 * With a rig, the rig is stopped first (stop() is idempotent), so that no container still holds
 * a cgroup or a mount when they are removed, whatever order the teardowns run in.
 */
export async function makeDirs(t: Test, rig?: ContainerdRig): Promise<Dirs> {
  const base = await mkdtemp('/tmp/moor-agent-it-');
  const { mkdir } = await import('node:fs/promises');
  const dirs = { base, manifests: `${base}/manifests`, root: `${base}/root`, logs: `${base}/logs`, cgroupRoot: `/moor-it-${randomBytes(3).toString('hex')}` };
  await mkdir(dirs.manifests, { recursive: true });
  t.teardown(async () => {
    await rig?.stop();
    await removeMountsUnder(base).catch(() => undefined);
    // MOOR_TEST_KEEP_LOGS=dir keeps the agent logs of the run for a post-mortem.
    if (process.env.MOOR_TEST_KEEP_LOGS) await cp(base, `${process.env.MOOR_TEST_KEEP_LOGS}/${base.split('/').pop()}`, { recursive: true, filter: (src) => !src.includes('/root/') && !src.includes('/logs/') }).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    await removeCgroupTree(dirs.cgroupRoot);
  });
  return dirs;
}

/** rmdir a cgroup subtree in every hierarchy, deepest first (containers are gone by then). */
export async function removeCgroupTree(path: string): Promise<void> {
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory()) await walk(`${dir}/${e.name}`);
      await rmdir(dir).catch(() => undefined);
    };
    await walk(`/sys/fs/cgroup/${h}${path}`);
  }
}

export function flagsFor(rig: ContainerdRig, dirs: Dirs, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'container-runtime-endpoint': rig.endpoint,
    'pod-manifest-path': dirs.manifests,
    'root-dir': dirs.root,
    'pod-logs-dir': dirs.logs,
    'hostname-override': NODE,
    'node-ip': '127.0.0.1',
    port: '0',
    'cgroup-root': dirs.cgroupRoot,
    'relist-period': '500ms',
    'sync-frequency': '5s',
    'file-check-frequency': '5s',
    'crash-loop-backoff-initial': '1s',
    'crash-loop-backoff-max': '4s',
    'image-pull-backoff-initial': '1s',
    'image-pull-backoff-max': '4s',
    ...extra,
  };
}

/** Write a manifest atomically (write then rename), as a person or a tool should. */
export async function writeManifest(dirs: Dirs, file: string, pods: object | object[]): Promise<void> {
  const docs = (Array.isArray(pods) ? pods : [pods]).map((p) => stringify(p)).join('---\n');
  const tmp = `${dirs.manifests}/.${file}.tmp`;
  await writeFile(tmp, docs);
  await rename(tmp, `${dirs.manifests}/${file}`);
}

export function podManifest(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): object {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...metadata }, spec };
}

/** A shell command that exits at once on SIGTERM (sleep in the background, wait is interruptible). */
export function sleeper(before = ''): string[] {
  return ['sh', '-c', `${before}${before ? '\n' : ''}trap 'exit 0' TERM; sleep 3600 & wait`];
}

export interface PodView {
  pods(): Promise<Pod[]>;
}

export async function waitPod(view: PodView, name: string, check: (p: Pod) => boolean, what: string, timeoutMs = 60_000): Promise<Pod> {
  return waitFor(async () => {
    const pod = (await view.pods()).find((p) => p.metadata.name === `${name}-${NODE}`);
    return pod !== undefined && check(pod) ? pod : undefined;
  }, { timeoutMs, intervalMs: 100, what: `${name}: ${what}` });
}

export function ready(p: Pod): boolean {
  return p.status?.conditions.find((c) => c.type === 'Ready')?.status === 'True';
}

// --- in process --------------------------------------------------------------------------------

export interface InProcessAgent extends PodView {
  readonly agent: Agent;
  readonly dirs: Dirs;
  readonly url: string;
}

export async function startInProcessAgent(t: Test, rig: ContainerdRig, extra: Record<string, string> = {}): Promise<InProcessAgent> {
  const dirs = await makeDirs(t, rig);
  const config = buildConfig({ flags: new Map(Object.entries(flagsFor(rig, dirs, extra))) });
  const log = process.env.MOOR_TEST_AGENT_LOG ? createLogger({ name: 'agent', level: 'debug', destination: process.env.MOOR_TEST_AGENT_LOG }) : silentLogger();
  const agent = new Agent({ config, log, metrics: createAgentMetrics() });
  await agent.start();
  t.teardown(() => agent.stop());
  const url = `http://127.0.0.1:${agent.port}`;
  return { agent, dirs, url, pods: async () => agent.listPods() };
}

// --- child process -------------------------------------------------------------------------------

export interface AgentProcess extends PodView {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly url: string;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logLines(): Promise<Record<string, unknown>[]>;
}

/** Run `moor agent` as a child process; resolves once its API answers (or rejects if it exits first). */
export async function startAgentProcess(t: Test, flags: Record<string, string>, opts: { logFile: string; expectExit?: boolean } ): Promise<AgentProcess> {
  const argv = ['--import', 'tsx', `${REPO_ROOT}cli/moor.ts`, 'agent', ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)];
  const out = await open(opts.logFile, 'a');
  const child = spawn(process.execPath, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', out.fd], env: { ...process.env, MOOR_LOG_LEVEL: 'info' } });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => out.close());
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const logLines = async (): Promise<Record<string, unknown>[]> =>
    (await readFile(opts.logFile, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  if (opts.expectExit) return { child, logFile: opts.logFile, url: '', exited, logLines, pods: async () => [] };
  let done = false;
  void exited.then(() => (done = true));
  const api = await waitFor(async () => {
    if (done) throw new Error(`agent exited early: ${(await readFile(opts.logFile, 'utf8')).slice(-2000)}`);
    const started = (await logLines()).filter((l) => l.msg === 'agent started' && l.pid === child.pid).pop();
    return started?.api as string | undefined;
  }, { timeoutMs: 60_000, intervalMs: 100, what: 'agent started' });
  const url = `http://${api}`;
  return {
    child, logFile: opts.logFile, url, exited, logLines,
    pods: async () => {
      const res = await fetch(`${url}/pods`);
      return ((await res.json()) as { items: Pod[] }).items;
    },
  };
}
