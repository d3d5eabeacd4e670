// The CRI contract (test/unit/agent/cri/contract.ts) against a real containerd: the same checks the
// in-memory fake passes, so the fake stays faithful to what the agent will meet.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCriClient } from '../../../agent/cri/client.ts';
import { IMAGE_REGISTRY } from '../../../common/images.ts';
import { IMAGES, startContainerdRig } from '../../helpers/containerd-rig.ts';
import { defineCriContract } from '../../unit/agent/cri/contract.ts';
import { criSkipReason } from './setup.ts';

t.test('CRI contract against containerd', { skip: await criSkipReason() }, async (t) => {
  const rig = await startContainerdRig({ name: `moor-cri-contract-${process.pid}` });
  t.teardown(() => rig.stop());
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 20_000 });
  t.teardown(() => cri.close());
  const logDirectory = await mkdtemp(join(tmpdir(), 'moor-cri-contract-logs-'));
  t.teardown(() => rm(logDirectory, { recursive: true, force: true }));
  defineCriContract(t, () => ({ cri, image: IMAGES.busybox, missingImage: `${IMAGE_REGISTRY}/moor/missing:0`, logDirectory }));
});
