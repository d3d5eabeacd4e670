import t from 'tap';
import { allocatePodCidr, formatCidr, parseCidr } from '../../../../controlplane/controllers/node-ipam.ts';

t.test('parse and format IPv4 CIDRs, host bits cleared', async (t) => {
  t.equal(formatCidr(parseCidr('10.244.0.0/16')), '10.244.0.0/16');
  t.equal(formatCidr(parseCidr('10.244.7.9/16')), '10.244.0.0/16');
  t.equal(formatCidr(parseCidr('192.168.1.1/32')), '192.168.1.1/32');
  for (const bad of ['10.244.0.0', '10.244.0.0/33', '300.1.1.1/8', 'fd00::/64']) t.throws(() => parseCidr(bad), { code: 'cidr-invalid' }, bad);
});

t.test('the lowest free block; none when all are taken', async (t) => {
  const cluster = parseCidr('10.244.0.0/16');
  t.equal(allocatePodCidr(cluster, 24, new Set()), '10.244.0.0/24');
  t.equal(allocatePodCidr(cluster, 24, new Set(['10.244.0.0/24', '10.244.2.0/24'])), '10.244.1.0/24');
  const small = parseCidr('10.9.0.0/23');
  t.equal(allocatePodCidr(small, 24, new Set(['10.9.0.0/24', '10.9.1.0/24'])), undefined);
  t.equal(allocatePodCidr(parseCidr('10.0.0.0/8'), 24, new Set(['10.0.0.0/24'])), '10.0.1.0/24');
  t.throws(() => allocatePodCidr(cluster, 8, new Set()), { code: 'cidr-invalid' });
});
