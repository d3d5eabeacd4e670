// The built-in IPAM store in a temporary directory: host-local's layout, exclusive reservations
// (also across processes), release only by the owner, and files written by host-local itself.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIp, parseIp } from '../../../../cni/addr.ts';
import { IpamStore } from '../../../../cni/ipam/store.ts';

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mbt-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ip = (s: string) => parseIp(s)!;

t.test('layout and exclusivity', async (t) => {
  const dir = tmp(t);
  const s = new IpamStore(dir, 'net');
  s.ensureDir();
  t.ok(existsSync(join(dir, 'net', 'lock')), 'lock file like host-local');
  t.ok(s.tryReserve(ip('10.0.0.2'), 'c1', 'eth0'));
  t.notOk(s.tryReserve(ip('10.0.0.2'), 'c1', 'eth0'), 'taken, even by the same attachment');
  t.ok(s.tryReserve(ip('fd00::2'), 'c1', 'eth0'));
  s.finishReserving();
  s.setLastReserved(0, ip('10.0.0.2'));
  t.equal(readFileSync(join(dir, 'net', '10.0.0.2'), 'utf8'), 'c1\r\neth0', "host-local's file content");
  t.equal(readFileSync(join(dir, 'net', 'last_reserved_ip.0'), 'utf8'), '10.0.0.2');
  t.equal(formatIp(s.lastReserved(0)!), '10.0.0.2');
  t.equal(s.lastReserved(1), undefined);
  t.same(readdirSync(join(dir, 'net')).filter((f) => f.startsWith('.')), [], 'no temporary file left');
  t.same(s.list().map((r) => formatIp(r.ip)).sort(), ['10.0.0.2', 'fd00::2']);
  t.same(s.findByAttachment('c1', 'eth0').map(formatIp).sort(), ['10.0.0.2', 'fd00::2']);
  t.notOk(s.release(ip('10.0.0.2'), 'c2', 'eth0'), 'not released for another container');
  t.notOk(s.release(ip('10.0.0.2'), 'c1', 'eth1'), 'nor for another interface');
  t.ok(s.release(ip('10.0.0.2'), 'c1', 'eth0'));
  t.notOk(s.release(ip('10.0.0.2'), 'c1', 'eth0'), 'releasing twice is fine');
});

t.test("reads host-local's files, including ones without an interface name", async (t) => {
  const dir = tmp(t);
  mkdirSync(join(dir, 'net'));
  writeFileSync(join(dir, 'net', '10.0.0.7'), 'old-container');
  writeFileSync(join(dir, 'net', '10.0.0.8'), 'new-container\r\nnet1');
  writeFileSync(join(dir, 'net', 'last_reserved_ip.0'), '10.0.0.8');
  const s = new IpamStore(dir, 'net');
  t.same(s.findByAttachment('old-container', 'eth0').map(formatIp), ['10.0.0.7'], 'legacy file matches by container id');
  t.same(s.findByAttachment('new-container', 'net1').map(formatIp), ['10.0.0.8']);
  t.equal(formatIp(s.lastReserved(0)!), '10.0.0.8');
});

t.test('temporary files of killed reservers are collected', async (t) => {
  const dir = tmp(t);
  const s = new IpamStore(dir, 'net');
  s.ensureDir();
  s.tryReserve(ip('10.0.0.2'), 'dead', 'eth0'); // no finishReserving: as if killed
  t.equal(readdirSync(join(dir, 'net')).filter((f) => f.startsWith('.moor-')).length, 1);
  t.equal(s.removeStaleTemporaries((id) => id === 'alive'), 1);
  t.same(readdirSync(join(dir, 'net')).filter((f) => f.startsWith('.moor-')), []);
});

t.test('concurrent processes never share an address', async (t) => {
  const dir = tmp(t);
  const script = `
    import { IpamStore } from ${JSON.stringify(join(process.cwd(), 'cni/ipam/store.ts'))};
    import { parseIp } from ${JSON.stringify(join(process.cwd(), 'cni/addr.ts'))};
    const s = new IpamStore(process.argv[1], 'net'); s.ensureDir();
    const got = [];
    for (let i = 2; i < 42; i++) if (s.tryReserve(parseIp('10.0.0.' + i), process.argv[2], 'eth0')) got.push(i);
    s.finishReserving();
    process.stdout.write(JSON.stringify(got));`;
  const run = (id: string) => new Promise<number[]>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir, id], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.on('error', reject);
    c.on('close', () => resolve(JSON.parse(out) as number[]));
  });
  const results = await Promise.all(['p1', 'p2', 'p3', 'p4'].map(run));
  const all = results.flat();
  t.equal(all.length, 40, 'every address reserved exactly once');
  t.equal(new Set(all).size, 40, 'no address twice');
  t.equal(new IpamStore(dir, 'net').list().length, 40);
});
