// gRPC status -> CriError: kinds, stable codes, messages and the predicates callers branch on.
import t from 'tap';
import { NodeError } from '../../../../common/errors.ts';
import {
  CriError,
  GrpcCode,
  describeMethod,
  isCriError,
  isDeadline,
  isInvalid,
  isNameReserved,
  isNotFound,
  isNotInitialized,
  isUnavailable,
  isUnimplemented,
  kindOfGrpcCode,
  toCriError,
  type CriErrorKind,
} from '../../../../agent/cri/errors.ts';

t.test('each gRPC code maps to one kind and one stable code', async (t) => {
  const cases: [number, CriErrorKind, string][] = [
    [GrpcCode.NOT_FOUND, 'notFound', 'cri-not-found'],
    [GrpcCode.UNAVAILABLE, 'unavailable', 'cri-unavailable'],
    [GrpcCode.DEADLINE_EXCEEDED, 'deadline', 'cri-deadline'],
    [GrpcCode.INVALID_ARGUMENT, 'invalid', 'cri-invalid'],
    [GrpcCode.UNIMPLEMENTED, 'unimplemented', 'cri-unimplemented'],
    [GrpcCode.UNKNOWN, 'other', 'cri-other'],
    [GrpcCode.ALREADY_EXISTS, 'other', 'cri-other'],
    [GrpcCode.FAILED_PRECONDITION, 'other', 'cri-other'],
    [GrpcCode.INTERNAL, 'other', 'cri-other'],
    [GrpcCode.CANCELLED, 'other', 'cri-other'],
    [99, 'other', 'cri-other'],
  ];
  for (const [grpcCode, kind, code] of cases) {
    t.equal(kindOfGrpcCode(grpcCode), kind, `code ${grpcCode} -> ${kind}`);
    const err = toCriError({ code: grpcCode, details: 'x' }, { method: 'Version' });
    t.equal(err.kind, kind);
    t.equal(err.code, code);
    t.equal(err.grpcCode, grpcCode, 'keeps the gRPC code');
  }
});

t.test('a gRPC status keeps code, details, method and target; message reads operation, object, cause', async (t) => {
  const raw = Object.assign(new Error('5 NOT_FOUND: an error occurred when try to find container "abc": not found'), {
    code: 5,
    details: 'an error occurred when try to find container "abc": not found',
  });
  const err = toCriError(raw, { method: 'ContainerStatus', target: 'abc' });
  t.ok(err instanceof CriError);
  t.ok(err instanceof NodeError, 'a NodeError');
  t.equal(err.name, 'CriError');
  t.equal(err.method, 'ContainerStatus');
  t.equal(err.target, 'abc');
  t.equal(err.details, 'an error occurred when try to find container "abc": not found');
  t.equal(err.message, 'cri container status abc: not found: an error occurred when try to find container "abc": not found');
  t.equal(err.cause, raw, 'the original error is the cause');
  t.ok(isNotFound(err));
  t.notOk(isUnavailable(err));
});

t.test('a status without details falls back to its message; no target leaves none in the text', async (t) => {
  const err = toCriError({ code: 14, message: 'connect ENOENT /x.sock' }, { method: 'ListPodSandbox' });
  t.equal(err.message, 'cri list pod sandbox: unavailable: connect ENOENT /x.sock');
  t.ok(isUnavailable(err));
});

t.test('a CriError passes through unchanged', async (t) => {
  const original = new CriError({ method: 'Version', grpcCode: GrpcCode.UNAVAILABLE, details: 'down' });
  t.equal(toCriError(original, { method: 'Status' }), original);
});

t.test('non-gRPC failures: encoding problems are invalid, the rest other', async (t) => {
  const typeErr = toCriError(new TypeError('bad value for field attempt'), { method: 'RunPodSandbox' });
  t.equal(typeErr.kind, 'invalid');
  t.ok(isInvalid(typeErr));
  t.equal(typeErr.grpcCode, GrpcCode.UNKNOWN);
  const other = toCriError('boom', { method: 'RunPodSandbox' });
  t.equal(other.kind, 'other');
  t.match(other.message, /boom$/);
});

t.test('an explicit kind overrides the one the code gives', async (t) => {
  const err = new CriError({ method: 'Version', grpcCode: GrpcCode.DEADLINE_EXCEEDED, details: 'never connected', kind: 'unavailable' });
  t.ok(isUnavailable(err));
  t.notOk(isDeadline(err));
  t.equal(err.code, 'cri-unavailable');
});

t.test('predicates are false for anything that is not a CriError', async (t) => {
  for (const value of [new Error('x'), { code: 5 }, undefined, 'not found']) {
    t.notOk(isNotFound(value));
    t.notOk(isCriError(value));
  }
  t.ok(isDeadline(new CriError({ method: 'ExecSync', grpcCode: 4, details: 'timeout 1s exceeded' })));
  t.ok(isUnimplemented(new CriError({ method: 'Version', grpcCode: 12, details: 'unknown service runtime.v1.RuntimeService' })));
});

t.test('containerd still loading after a start (UNKNOWN "server is not initialized yet") is unavailable', async (t) => {
  const err = toCriError({ code: GrpcCode.UNKNOWN, details: 'server is not initialized yet' }, { method: 'Version' });
  t.equal(err.kind, 'unavailable');
  t.ok(isUnavailable(err));
  t.ok(isNotInitialized(err));
  t.equal(err.grpcCode, GrpcCode.UNKNOWN, 'the code stays as sent');
  t.notOk(isNotInitialized(toCriError({ code: GrpcCode.UNKNOWN, details: 'failed to reserve sandbox name' }, { method: 'RunPodSandbox' })));
});

t.test('isNameReserved recognises containerd reservation failures only', async (t) => {
  const cases: [string, boolean][] = [
    ['failed to reserve sandbox name "p_ns_u_0": name "p_ns_u_0" is reserved for "1234"', true],
    ['failed to reserve container name "c_p_ns_u_0": name "c_p_ns_u_0" is reserved for "5678"', true],
    ['failed to setup network for sandbox "1234": cni plugin not initialized', false],
  ];
  for (const [details, expected] of cases) {
    t.equal(isNameReserved(new CriError({ method: 'RunPodSandbox', grpcCode: GrpcCode.UNKNOWN, details })), expected, details);
  }
  t.notOk(isNameReserved(new Error('failed to reserve sandbox name')), 'plain errors are not matched');
});

t.test('describeMethod splits RPC names into words', async (t) => {
  t.equal(describeMethod('RunPodSandbox'), 'run pod sandbox');
  t.equal(describeMethod('ExecSync'), 'exec sync');
  t.equal(describeMethod('Version'), 'version');
});
