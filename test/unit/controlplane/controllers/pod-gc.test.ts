import t from 'tap';
import type { Pod } from '../../../../controlplane/client/types.ts';
import { chooseTerminatedPodsToDelete } from '../../../../controlplane/controllers/pod-gc.ts';

const pod = (name: string, phase: 'Running' | 'Succeeded' | 'Failed', created: string): Pod => ({ metadata: { name, creationTimestamp: created }, spec: { containers: [] }, status: { phase } });

t.test('finished pods beyond the threshold, oldest first', async (t) => {
  const pods = [pod('r', 'Running', '2026-01-01T00:00:00Z'), pod('s2', 'Succeeded', '2026-01-03T00:00:00Z'), pod('f1', 'Failed', '2026-01-01T00:00:00Z'), pod('s3', 'Succeeded', '2026-01-04T00:00:00Z')];
  t.same(chooseTerminatedPodsToDelete(pods, 1).map((p) => p.metadata.name), ['f1', 's2']);
  t.same(chooseTerminatedPodsToDelete(pods, 3), []);
  t.same(chooseTerminatedPodsToDelete(pods, 0), [], '0 turns it off');
});
