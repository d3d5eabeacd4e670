import t from 'tap';
import { ProbeResults, ProbeWorker, type ProbeKind, type ProbeTarget } from '../../../../agent/probe/worker.ts';
import type { ProbeOutcome } from '../../../../agent/probe/runners.ts';
import type { Probe } from '../../../../agent/pod/types.ts';
import { silentLogger } from '../../../../common/log.ts';

const probe = (o: Partial<Probe> = {}): Probe => ({ exec: { command: ['check'] }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 1, successThreshold: 1, failureThreshold: 3, ...o });

function harness(kind: ProbeKind, p: Probe, outcomes: ProbeOutcome['result'][]) {
  let now = 10_000;
  let target: ProbeTarget = { containerId: 'c1', running: true, startedAtMs: 10_000, podIp: '10.0.0.2', started: true };
  const results = new ProbeResults();
  const changes: string[] = [];
  let runs = 0;
  const worker = new ProbeWorker({
    kind, probe: p, podUid: 'u', containerName: 'app', results, log: silentLogger(),
    getTarget: () => target,
    run: async () => ({ result: outcomes[runs++] ?? outcomes[outcomes.length - 1], message: '' }),
    onChange: (e) => changes.push(`${e.containerId}:${e.result}`),
    now: () => now,
    timers: { setTimeout: () => 0, clearTimeout: () => undefined },
  });
  return {
    worker, results, changes,
    runs: () => runs,
    tickAt: async (ms: number) => {
      now = 10_000 + ms;
      await worker.tick();
    },
    setTarget: (o: Partial<ProbeTarget>) => {
      target = { ...target, ...o };
    },
  };
}

t.test('liveness: initial success, failure only after failureThreshold in a row, then on hold', async (t) => {
  const h = harness('liveness', probe({ failureThreshold: 3 }), ['failure', 'failure', 'success', 'failure', 'failure', 'failure', 'failure']);
  for (let i = 0; i < 7; i++) await h.tickAt(i * 1000);
  t.same(h.changes, ['c1:success', 'c1:failure'], 'published once, after the third failure in a row');
  t.equal(h.runs(), 6, 'on hold after the failure: no more probing');
  h.setTarget({ containerId: 'c2', startedAtMs: 20_000 });
  await h.tickAt(10_000);
  t.same(h.changes.slice(2), ['c2:success'], 'a new container starts over');
  t.equal(h.results.get('c1'), undefined, 'the old container result is dropped');
});

t.test('readiness: initial failure, success after successThreshold', async (t) => {
  const h = harness('readiness', probe({ successThreshold: 2 }), ['success', 'success', 'failure']);
  await h.tickAt(0);
  t.same(h.changes, ['c1:failure']);
  await h.tickAt(1000);
  t.same(h.changes, ['c1:failure', 'c1:success']);
  await h.tickAt(2000);
  t.same(h.changes, ['c1:failure', 'c1:success'], 'failureThreshold 3: one failure is not enough');
  t.equal(h.runs(), 3, 'readiness keeps probing');
});

t.test('initialDelaySeconds counts from the container start', async (t) => {
  const h = harness('readiness', probe({ initialDelaySeconds: 5 }), ['success']);
  await h.tickAt(4_999);
  t.equal(h.runs(), 0);
  await h.tickAt(5_000);
  t.equal(h.runs(), 1);
});

t.test('startup gates the others and stops once it succeeded', async (t) => {
  const live = harness('liveness', probe(), ['failure']);
  live.setTarget({ started: false });
  await live.tickAt(0);
  t.equal(live.runs(), 0, 'liveness waits for startup');
  const start = harness('startup', probe(), ['success']);
  await start.tickAt(0);
  await start.tickAt(1000);
  t.equal(start.runs(), 1, 'startup stops once it succeeded');
  t.same(start.changes, ['c1:unknown', 'c1:success']);
});

t.test('a probe that cannot run (runtime unavailable) counts neither way', async (t) => {
  const h = harness('liveness', probe({ failureThreshold: 1 }), ['unknown', 'unknown']);
  await h.tickAt(0);
  await h.tickAt(1000);
  t.same(h.changes, ['c1:success']);
});

t.test('a container that is not running reads as failure', async (t) => {
  const h = harness('readiness', probe(), ['success']);
  await h.tickAt(0);
  h.setTarget({ running: false });
  await h.tickAt(1000);
  t.same(h.changes, ['c1:failure', 'c1:success', 'c1:failure']);
});
