import t from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ensureSelfSignedCert, isUsableServingCert } from '../../../../agent/host/serving-cert.ts';

t.test('self-signed serving certificate: made once, reused, remade for another IP', async (t) => {
  const dir = await mkdtemp(`${tmpdir()}/moor-agent-pki-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await ensureSelfSignedCert(`${dir}/pki`, { nodeName: 'n1', nodeIp: '10.0.0.5' });
  const pem = await readFile(first.certFile, 'utf8');
  const cases = [
    { name: 'names the node and IP', opts: { nodeName: 'n1', nodeIp: '10.0.0.5', nowMs: Date.now() }, usable: true },
    { name: 'other IP', opts: { nodeName: 'n1', nodeIp: '10.0.0.6', nowMs: Date.now() }, usable: false },
    { name: 'other name', opts: { nodeName: 'n2', nodeIp: '10.0.0.5', nowMs: Date.now() }, usable: false },
    { name: 'about to expire', opts: { nodeName: 'n1', nodeIp: '10.0.0.5', nowMs: Date.now() + 365 * 86_400_000 }, usable: false },
  ];
  for (const c of cases) t.equal(isUsableServingCert(pem, c.opts), c.usable, c.name);
  t.equal(isUsableServingCert('not a pem', cases[0].opts), false, 'garbage');
  const mtime = (await stat(first.certFile)).mtimeMs;
  await ensureSelfSignedCert(`${dir}/pki`, { nodeName: 'n1', nodeIp: '10.0.0.5' });
  t.equal((await stat(first.certFile)).mtimeMs, mtime, 'reused when still good');
  await ensureSelfSignedCert(`${dir}/pki`, { nodeName: 'n1', nodeIp: '10.0.0.6' });
  t.ok(isUsableServingCert(await readFile(first.certFile, 'utf8'), { nodeName: 'n1', nodeIp: '10.0.0.6', nowMs: Date.now() }), 'remade for the new IP');
});
