// The plain-JS SHA-256 agrees with node:crypto.
import t from 'tap';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../../cni/hash.ts';

t.test('sha256Hex matches node:crypto', async (t) => {
  for (const input of ['', 'abc', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'é€ünïcode'.repeat(20), 'mbt\nctr\neth0']) {
    t.equal(sha256Hex(input), createHash('sha256').update(input).digest('hex'), `length ${input.length}`);
  }
});
