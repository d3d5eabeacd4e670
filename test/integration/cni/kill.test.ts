// An ADD killed midway (SIGKILL: no undo runs) followed by the runtime's DEL, without prevResult as
// the ADD never returned one, leaves nothing: no reservation or temporary file, no host veth, no rule.
// Kill points are made deterministic with wrapper commands early in PATH that stall the plugin at a
// chosen step, plus a few kills at fixed delays after start.
import t from 'tap';
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../../common/wait.ts';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

/** A stand-in for `name` that stalls (after or instead of running the real command) when `when` holds. */
function wrapper(dir: string, name: string, real: string, applyFirst: boolean, when = 'true'): void {
  mkdirSync(dir, { recursive: true });
  const stall = applyFirst ? `${real} "$@"\n  echo $$ > "$MBT_MARK"\n  exec sleep 30` : `echo $$ > "$MBT_MARK"\n  exec sleep 30`;
  const body = `if ${when}; then\n  ${stall}\nfi\nexec ${real} "$@"\n`;
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}`);
  chmodSync(join(dir, name), 0o755);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already exited: nothing to kill
  }
}

t.test('SIGKILL during ADD, then DEL, leaves nothing', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const conf = moorConfig(lab, {}, '10.222.0.0/24');
  const network = conf.name as string;
  const points = [
    // the host batch is `ip -json -details -force -batch -`; its last line forks the pod's batch,
    // `ip -json -details -batch /dev/fd/3`, inside the netns (found through PATH too)
    { name: 'inside the pod batch (addresses set, rules in flight)', cmd: 'ip', real: '/usr/sbin/ip', applyFirst: true, when: '[ "$4" = /dev/fd/3 ]' },
    { name: 'before the host batch ran (address reserved only)', cmd: 'ip', real: '/usr/sbin/ip', applyFirst: false, when: '[ "$3" = -force ]' },
    { name: 'after the masquerade rules were applied', cmd: 'iptables-restore', real: '/usr/sbin/iptables-restore', applyFirst: true },
    { name: 'before the masquerade rules were applied', cmd: 'iptables-restore', real: '/usr/sbin/iptables-restore', applyFirst: false },
  ];
  let n = 0;
  for (const point of points) {
    await t.test(point.name, async (t) => {
      const dir = join(lab.dir, `wrap-${n}`);
      const mark = join(lab.dir, `mark-${n}`);
      const id = `killed-${n++}`;
      wrapper(dir, point.cmd, point.real, point.applyFirst, 'when' in point ? point.when : 'true');
      const pod = lab.podNs();
      let pluginPid = 0;
      const add = lab.invoke({
        command: 'ADD', config: conf, containerId: id, netns: pod.path, ifName: 'eth0',
        env: { PATH: `${dir}:${process.env.PATH}`, MBT_MARK: mark },
        onSpawn: (pid) => (pluginPid = pid),
      });
      const stalled = await waitFor(() => existsSync(mark) && readFileSync(mark, 'utf8').trim() !== '' && Number(readFileSync(mark, 'utf8')), { timeoutMs: 20_000, what: `ADD to reach ${point.cmd}` });
      t.ok(lab.reservations(network).length > 0, 'an address was reserved when killed');
      killQuietly(pluginPid);
      killQuietly(stalled);
      const res = await add;
      t.equal(res.signal, 'SIGKILL', 'the ADD was killed');
      const del = await lab.invoke({ command: 'DEL', config: conf, containerId: id, netns: pod.path, ifName: 'eth0' });
      t.equal(del.code, 0, `DEL succeeds: ${del.stdout}`);
      t.same(lab.ipamFiles(network).filter((f) => !f.startsWith('last_reserved_ip') && f !== 'lock'), [], 'no reservation or temporary file');
      t.same(lab.hostVeths(), [], 'no host veth');
      t.same(lab.natRules(), [], 'no nat rule or chain');
      t.equal(lab.pod(pod, ['ip', 'link', 'show', 'eth0']).code !== 0, true, 'no container interface');
    });
  }

  await t.test('killed at fixed delays after start', async (t) => {
    for (const delayMs of [0, 40, 80, 120]) {
      const pod = lab.podNs();
      const id = `delay-${delayMs}`;
      let pluginPid = 0;
      const add = lab.invoke({ command: 'ADD', config: conf, containerId: id, netns: pod.path, ifName: 'eth0', onSpawn: (pid) => (pluginPid = pid) });
      await new Promise((r) => setTimeout(r, delayMs));
      killQuietly(pluginPid);
      const res = await add;
      const del = await lab.invoke({ command: 'DEL', config: conf, containerId: id, netns: pod.path, ifName: 'eth0' });
      t.equal(del.code, 0, `DEL after a kill at ${delayMs} ms (${res.signal ?? `exit ${res.code}`}): ${del.stdout}`);
      t.same(lab.ipamFiles(network).filter((f) => !f.startsWith('last_reserved_ip') && f !== 'lock'), [], `${delayMs} ms: no reservation or temporary file`);
      t.same(lab.hostVeths(), [], `${delayMs} ms: no host veth`);
      t.same(lab.natRules(), [], `${delayMs} ms: no nat rule`);
    }
  });
});
