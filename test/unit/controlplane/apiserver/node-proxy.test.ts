import t from 'tap';
import { containerLogsPath, nodeEndpoint } from '../../../../controlplane/apiserver/node-proxy.ts';

t.test('node endpoint from the Node object', async (t) => {
  const node = (addresses: unknown[], port?: number) => ({ status: { addresses, daemonEndpoints: port === undefined ? undefined : { kubeletEndpoint: { Port: port } } } });
  t.same(nodeEndpoint(node([{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '10.0.0.5' }], 10250)), { host: '10.0.0.5', port: 10250 }, 'InternalIP first');
  t.same(nodeEndpoint(node([{ type: 'Hostname', address: 'n1' }], 10250)), { host: 'n1', port: 10250 });
  t.equal(nodeEndpoint(node([{ type: 'InternalIP', address: '10.0.0.5' }])), undefined, 'no port');
  t.equal(nodeEndpoint(node([], 10250)), undefined, 'no address');
  t.equal(nodeEndpoint({}), undefined);
});

t.test('container log path keeps only the log parameters', async (t) => {
  const q = new URLSearchParams('container=c&follow=true&tailLines=5&timestamps=true&pretty=1&sinceTime=2026-01-01T00:00:00Z');
  t.equal(containerLogsPath('default', 'web-1', 'c', q), '/containerLogs/default/web-1/c?follow=true&timestamps=true&tailLines=5&sinceTime=2026-01-01T00%3A00%3A00Z');
  t.equal(containerLogsPath('ns', 'p', 'c', new URLSearchParams()), '/containerLogs/ns/p/c');
});
