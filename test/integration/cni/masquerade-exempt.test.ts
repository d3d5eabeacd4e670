// ipMasq with nonMasqueradeCIDRs: traffic from a pod to another pod subnet of the cluster CIDR keeps the
// pod's source IP (what pod -> pod across nodes needs), while a network without the exemption still
// masquerades it to the gateway; the exemption is one ACCEPT rule in the attachment's chain and goes
// with DEL. Two bridges in one lab host netns stand in for two nodes' pod networks.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../../common/wait.ts';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

t.test('nonMasqueradeCIDRs keeps the pod source IP towards the cluster CIDR', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const exempt = moorConfig(lab, { name: `mbt-${lab.id}-ex`, bridge: lab.name('mbex'), nonMasqueradeCIDRs: ['10.215.0.0/16'] }, '10.215.0.0/24');
  const plain = moorConfig(lab, { name: `mbt-${lab.id}-pl`, bridge: lab.name('mbpl') }, '10.215.2.0/24');
  const server = moorConfig(lab, { name: `mbt-${lab.id}-sv`, bridge: lab.name('mbsv') }, '10.215.1.0/24');
  const nets = [['a', exempt], ['x', plain], ['c', server]] as const;
  const ns: Record<string, { name: string; path: string }> = {};
  const ips: Record<string, string> = {};
  for (const [who, conf] of nets) {
    ns[who] = lab.podNs();
    const add = await lab.invoke({ command: 'ADD', config: conf, containerId: `ctr-${who}`, netns: ns[who]!.path, ifName: 'eth0' });
    t.equal(add.code, 0, `ADD ${who}: ${add.stdout}`);
    ips[who] = (add.json as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
  }
  const chainRules = lab.natRules().filter((r) => r.includes(`id=ctr-a `));
  t.ok(chainRules.some((r) => r.includes('-d 10.215.0.0/16') && r.endsWith('-j ACCEPT')), 'the cluster CIDR is accepted in the chain');
  t.notOk(lab.natRules().filter((r) => r.includes('id=ctr-x ')).some((r) => r.includes('-d 10.215.0.0/16')), 'not in the network without it');

  // c answers with the address it sees (busybox httpd CGI REMOTE_ADDR).
  const www = join(lab.dir, 'www');
  mkdirSync(join(www, 'cgi-bin'), { recursive: true });
  writeFileSync(join(www, 'cgi-bin/ip'), '#!/bin/sh\nprintf \'Content-Type: text/plain\\r\\n\\r\\n%s\\n\' "$REMOTE_ADDR"\n');
  chmodSync(join(www, 'cgi-bin/ip'), 0o755);
  const httpd = spawn('nsenter', [`--net=${ns.c!.path}`, '--', 'busybox', 'httpd', '-f', '-p', '9000', '-h', www], { stdio: 'ignore' });
  t.teardown(() => { httpd.kill('SIGKILL'); });
  const seenFrom = (who: string): Promise<string> => waitFor(() => {
    const r = lab.pod(ns[who]!, ['sh', '-c', `printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${ips.c} 9000`]);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    return r.code === 0 && r.stdout.includes('200 OK') ? last.replace(/^\[?(?:::ffff:)?([^\]]+)\]?$/, '$1') : undefined;
  }, { timeoutMs: 10_000, intervalMs: 200, what: `${who} to reach c` });
  t.equal(await seenFrom('a'), ips.a, `with the exemption c sees the pod's own address ${ips.a}`);
  t.equal(await seenFrom('x'), '10.215.1.1', 'without it c sees the masqueraded gateway address');

  for (const [who, conf] of nets) {
    const del = await lab.invoke({ command: 'DEL', config: conf, containerId: `ctr-${who}`, netns: ns[who]!.path, ifName: 'eth0' });
    t.equal(del.code, 0, `DEL ${who}: ${del.stdout}`);
  }
  t.same(lab.natRules(), [], 'no nat rules left');
});
