import t, { type Test } from 'tap';
import { ApiClient } from '../../../../controlplane/client/client.ts';
import type { HttpRequest, HttpResponse, Transport } from '../../../../controlplane/client/transport.ts';
import { PodStatusWriter } from '../../../../agent/source/api-status.ts';
import type { Pod, PodStatus } from '../../../../agent/pod/types.ts';
import { silentLogger } from '../../../../common/log.ts';
import { waitFor } from '../../../../common/wait.ts';

/** A transport that records requests and answers with the next scripted status (200 by default), after `release()` when held. */
function fakeTransport(): Transport & { requests: HttpRequest[]; statuses: number[]; hold: boolean; release(): void } {
  let waiting: (() => void)[] = [];
  const self = {
    requests: [] as HttpRequest[],
    statuses: [] as number[],
    hold: false,
    release() {
      for (const w of waiting.splice(0)) w();
    },
    async request(req: HttpRequest): Promise<HttpResponse> {
      self.requests.push(req);
      if (self.hold) await new Promise<void>((r) => waiting.push(r));
      const status = self.statuses.shift() ?? 200;
      return { status, headers: {}, text: status === 200 ? '{}' : JSON.stringify({ kind: 'Status', code: status, reason: status === 404 ? 'NotFound' : 'InternalError', message: 'x' }) };
    },
    stream(): never {
      throw new Error('no streams');
    },
    close() {
      waiting = [];
    },
  };
  return self;
}

const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { containers: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst' } };
const status = (phase: PodStatus['phase'], podIP?: string): PodStatus => ({ phase, conditions: [], containerStatuses: [], qosClass: 'BestEffort', ...(podIP ? { podIP } : {}) });

function setup(t: Test, isApiPod = (uid: string) => uid === 'u1') {
  const transport = fakeTransport();
  const client = new ApiClient({ server: 'https://127.0.0.1:1' }, { transport });
  const writer = new PodStatusWriter({ client, log: silentLogger(), isApiPod, retryMs: 10 });
  t.teardown(() => writer.stop());
  return { transport, writer };
}

t.test('writes a JSON patch to pods/status that tests the UID', async (t) => {
  const { transport, writer } = setup(t);
  writer.set(pod, status('Running', '10.0.0.7'));
  await waitFor(() => transport.requests.length === 1, { timeoutMs: 2000, what: 'one request' });
  const req = transport.requests[0];
  t.equal(req.method, 'PATCH');
  t.equal(req.path, '/api/v1/namespaces/default/pods/web/status');
  t.equal(req.contentType, 'application/json-patch+json');
  t.same(JSON.parse(req.body!), [{ op: 'test', path: '/metadata/uid', value: 'u1' }, { op: 'add', path: '/status', value: status('Running', '10.0.0.7') }]);
});

t.test('writes only changes, and the newest status after a slow write', async (t) => {
  const { transport, writer } = setup(t);
  transport.hold = true;
  writer.set(pod, status('Pending'));
  await waitFor(() => transport.requests.length === 1, { timeoutMs: 2000, what: 'first request' });
  writer.set(pod, status('Running', '10.0.0.7'));
  writer.set(pod, status('Running', '10.0.0.8'));
  t.equal(transport.requests.length, 1, 'one write in flight at a time');
  transport.hold = false;
  transport.release();
  await waitFor(() => transport.requests.length === 2, { timeoutMs: 2000, what: 'second request' });
  t.equal(JSON.parse(transport.requests[1].body!)[1].value.podIP, '10.0.0.8', 'the newest status, the one in between skipped');
  writer.set(pod, status('Running', '10.0.0.8'));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(transport.requests.length, 2, 'an unchanged status is not written again');
});

t.test('retries a failed write; stops for a pod that is gone; ignores pods the server does not have', async (t) => {
  const { transport, writer } = setup(t);
  transport.statuses.push(500);
  writer.set(pod, status('Running'));
  await waitFor(() => transport.requests.length === 2, { timeoutMs: 2000, what: 'retry' });
  transport.statuses.push(404);
  writer.set(pod, status('Succeeded'));
  await waitFor(() => transport.requests.length === 3, { timeoutMs: 2000, what: 'third' });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(transport.requests.length, 3, 'no retry after not found');
  writer.set({ ...pod, metadata: { ...pod.metadata, uid: 'static' } }, status('Running'));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(transport.requests.length, 3, 'a static pod is not written');
});

t.test('a static pod status goes to its mirror; a new mirror gets it again; retain keeps static pods', async (t) => {
  const transport = fakeTransport();
  const client = new ApiClient({ server: 'https://127.0.0.1:1' }, { transport });
  let mirror: string | undefined;
  const writer = new PodStatusWriter({ client, log: silentLogger(), isApiPod: () => false, mirrorOf: () => mirror, retryMs: 10 });
  t.teardown(() => writer.stop());
  const staticPod: Pod = { ...pod, metadata: { ...pod.metadata, name: 'web-n', uid: 's1' } };
  writer.set(staticPod, status('Running'));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(transport.requests.length, 0, 'no mirror yet: nothing written');
  mirror = 'm1';
  writer.set(staticPod, status('Running'));
  await waitFor(() => transport.requests.length === 1, { timeoutMs: 2000, what: 'write to the mirror' });
  t.equal(transport.requests[0].path, '/api/v1/namespaces/default/pods/web-n/status');
  t.same(JSON.parse(transport.requests[0].body!)[0], { op: 'test', path: '/metadata/uid', value: 'm1' }, 'tests the mirror UID');
  writer.retain(new Set());
  writer.set(staticPod, status('Running'));
  await new Promise((r) => setTimeout(r, 20));
  t.equal(transport.requests.length, 1, 'kept by retain (the API source does not deliver static pods): the unchanged status is not written again');
  mirror = 'm2';
  writer.set(staticPod, status('Running'));
  await waitFor(() => transport.requests.length === 2, { timeoutMs: 2000, what: 'write to the new mirror' });
  t.same(JSON.parse(transport.requests[1].body!)[0].value, 'm2', 'the same status written again, to the new mirror');
});
