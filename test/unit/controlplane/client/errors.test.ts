import t from 'tap';
import { ApiClientError, errorFromResponse, errorFromWatchStatus, isAlreadyExists, isConflict, isExpired, isNotFound, isRetryable, kindOf, type ApiErrorKind } from '../../../../controlplane/client/errors.ts';

t.test('kindOf: the Status reason wins, the HTTP code decides otherwise', async (t) => {
  const cases: [number, string, ApiErrorKind][] = [
    [404, 'NotFound', 'notFound'],
    [409, 'AlreadyExists', 'alreadyExists'],
    [409, 'Conflict', 'conflict'],
    [409, '', 'conflict'],
    [410, 'Expired', 'expired'],
    [410, 'Gone', 'expired'],
    [410, '', 'expired'],
    [422, 'Invalid', 'invalid'],
    [400, '', 'badRequest'],
    [401, '', 'unauthorized'],
    [403, 'Forbidden', 'forbidden'],
    [429, '', 'tooManyRequests'],
    [500, 'InternalError', 'internal'],
    [502, '', 'internal'],
    [503, '', 'unavailable'],
    [504, '', 'timeout'],
    [302, '', 'other'],
  ];
  for (const [status, reason, want] of cases) t.equal(kindOf(status, reason), want, `${status} ${reason}`);
});

t.test('errorFromResponse: operation, path, then the server message', async (t) => {
  const body = { kind: 'Status', status: 'Failure', message: 'pods "x" not found', reason: 'NotFound', code: 404 };
  const err = errorFromResponse({ method: 'GET', path: '/api/v1/namespaces/default/pods/x', status: 404, body, text: JSON.stringify(body) });
  t.ok(err instanceof ApiClientError);
  t.equal(err.message, 'get /api/v1/namespaces/default/pods/x: pods "x" not found');
  t.equal(err.code, 'api-not-found');
  t.equal(err.status, 404);
  t.ok(isNotFound(err));
  t.notOk(isConflict(err));
  const plain = errorFromResponse({ method: 'POST', path: '/p', status: 502, body: undefined, text: 'bad gateway\n' });
  t.equal(plain.message, 'post /p: bad gateway');
  t.equal(plain.kind, 'internal');
  t.ok(isRetryable(plain));
  const empty = errorFromResponse({ method: 'DELETE', path: '/p', status: 500, body: undefined, text: '' });
  t.equal(empty.message, 'delete /p: HTTP 500');
});

t.test('watch ERROR events: 410 Expired becomes an expired error', async (t) => {
  const err = errorFromWatchStatus('/api/v1/pods', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (10)' });
  t.ok(isExpired(err));
  t.equal(err.message, 'watch /api/v1/pods: too old resource version: 5 (10)');
  const other = errorFromWatchStatus('/api/v1/pods', { nonsense: true });
  t.equal(other.kind, 'internal');
  t.notOk(isAlreadyExists(other));
  t.notOk(isNotFound(new Error('plain')), 'plain errors are no API errors');
});
