// Termination messages: the file each container gets, what is read back when it has exited, and the
// log fallback, with the kubelet's limits.
import t, { type Test } from 'tap';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { ContainerStatus } from '../../../../agent/cri/types.ts';
import { ANNOTATION_TERMINATION_MESSAGE_PATH, ANNOTATION_TERMINATION_MESSAGE_POLICY } from '../../../../agent/pod/labels.ts';
import { terminationMessageFile } from '../../../../agent/pod/observed.ts';
import {
  logTailMessage, MAX_FALLBACK_LOG_BYTES, MAX_MESSAGE_BYTES, prepareTerminationMessageMount, removeTerminationMessageFile, terminationMessage,
} from '../../../../agent/pod/termination-message.ts';
import type { Container } from '../../../../agent/pod/types.ts';

const container = (over: Partial<Container> = {}): Container => ({
  name: 'app', image: 'i', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ...over,
});

async function dir(t: Test): Promise<string> {
  const d = await mkdtemp(`${tmpdir()}/moor-termmsg-`);
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

function exited(over: { file?: string; policy?: string; exitCode?: number; logPath?: string; message?: string }): ContainerStatus {
  return {
    id: 'c1', metadata: { name: 'app', attempt: 0 }, state: 'exited', createdAtMs: 1, startedAtMs: 2, finishedAtMs: 3, exitCode: over.exitCode ?? 1,
    image: 'i', imageRef: 'r', reason: 'Error', message: over.message ?? '', labels: {},
    annotations: { [ANNOTATION_TERMINATION_MESSAGE_PATH]: '/dev/termination-log', [ANNOTATION_TERMINATION_MESSAGE_POLICY]: over.policy ?? 'File' },
    mounts: over.file !== undefined ? [{ containerPath: '/dev/termination-log', hostPath: over.file, readonly: false }] : [],
    logPath: over.logPath ?? '', info: {},
  };
}

const criLine = (text: string, tag = 'F', stream = 'stdout'): string => `2026-12-06T07:00:00.000000000Z ${stream} ${tag} ${text}`;

t.test('each container gets an empty file of its own, writable by any user, mounted at its path', async (t) => {
  const podDir = await dir(t);
  const a = await prepareTerminationMessageMount(podDir, container(), []);
  const b = await prepareTerminationMessageMount(podDir, container(), []);
  t.equal(a?.containerPath, '/dev/termination-log');
  t.match(a?.hostPath, new RegExp(`^${podDir}/containers/app/[0-9a-f]{8}$`));
  t.not(a?.hostPath, b?.hostPath, 'a new file per container instance');
  const st = await stat(a!.hostPath);
  t.equal(st.size, 0);
  t.equal(st.mode & 0o777, 0o666);
  t.equal(await prepareTerminationMessageMount(podDir, container({ terminationMessagePath: '' }), []), undefined, 'no path, no file');
  t.equal(await prepareTerminationMessageMount(podDir, container({ terminationMessagePath: '/data/msg' }), [{ containerPath: '/data/msg', hostPath: '/x', readonly: false }]), undefined, 'a volume mounted there wins');
  t.equal(terminationMessageFile({ annotations: { [ANNOTATION_TERMINATION_MESSAGE_PATH]: a!.containerPath }, mounts: [a!] }), a!.hostPath, 'found again from the CRI status');
  await removeTerminationMessageFile(a!.hostPath);
  await t.rejects(stat(a!.hostPath), { code: 'ENOENT' }, 'removed with its container');
});

t.test('the message is what the container wrote, up to 4 KiB; the runtime message comes first', async (t) => {
  const d = await dir(t);
  const file = `${d}/msg`;
  await writeFile(file, 'disk full\n');
  t.equal(await terminationMessage(exited({ file })), 'disk full\n');
  t.equal(await terminationMessage(exited({ file, message: 'runtime says' })), 'runtime says: disk full\n');
  await writeFile(file, 'x'.repeat(MAX_MESSAGE_BYTES + 100));
  t.equal((await terminationMessage(exited({ file }))).length, MAX_MESSAGE_BYTES, 'truncated');
  t.equal(await terminationMessage(exited({ file: `${d}/gone` })), '', 'a missing file is an empty message');
  t.equal(await terminationMessage({ ...exited({ file }), state: 'running', message: 'm' }), 'm', 'only exited containers read it');
});

t.test('FallbackToLogsOnError: the log tail when the container failed and wrote no message', async (t) => {
  const d = await dir(t);
  const file = `${d}/msg`;
  await writeFile(file, '');
  const logPath = `${d}/0.log`;
  await writeFile(logPath, [criLine('starting'), criLine('par', 'P', 'stderr'), criLine('tial crash', 'F', 'stderr'), ''].join('\n'));
  t.equal(await terminationMessage(exited({ file, logPath, policy: 'FallbackToLogsOnError' })), 'starting\npartial crash\n');
  t.equal(await terminationMessage(exited({ file, logPath, policy: 'File' })), '', 'not with policy File');
  t.equal(await terminationMessage(exited({ file, logPath, policy: 'FallbackToLogsOnError', exitCode: 0 })), '', 'not when it succeeded');
  await writeFile(file, 'own words');
  t.equal(await terminationMessage(exited({ file, logPath, policy: 'FallbackToLogsOnError' })), 'own words', 'the file wins when written');
});

t.test('the log tail: the last 80 lines, at most 2 KiB', async (t) => {
  const d = await dir(t);
  const logPath = `${d}/0.log`;
  await writeFile(logPath, Array.from({ length: 100 }, (_, i) => criLine(`line ${i}`)).join('\n') + '\n');
  const lines = (await logTailMessage(logPath)).trimEnd().split('\n');
  t.equal(lines.length, 80);
  t.equal(lines[0], 'line 20');
  t.equal(lines[79], 'line 99');
  await writeFile(logPath, Array.from({ length: 50 }, (_, i) => criLine(`${i} ${'y'.repeat(100)}`)).join('\n') + '\n');
  const tail = await logTailMessage(logPath);
  t.equal(Buffer.byteLength(tail), MAX_FALLBACK_LOG_BYTES);
  t.ok(tail.endsWith(`49 ${'y'.repeat(100)}\n`), 'the end of the log is kept');
  t.equal(await logTailMessage(`${d}/missing.log`), '');
});
