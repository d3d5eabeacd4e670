// The worker side of the scheduler and controllers thread (manager.ts starts it): the hidden
// `moor controlplane-worker` subcommand, run by a worker thread of `moor server` on its own CLI entry.
// It starts the parts on this thread, answers `started`, and on `stop` stops them and answers
// `stopped`.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../common/log.ts';
import { startControlPlane, WORKER_SUBCOMMAND, type WorkerInput } from './manager.ts';

/** The worker side: the `moor controlplane-worker` subcommand. Not for use from a shell. */
export async function runControlPlaneWorker(_argv: string[]): Promise<number> {
  if (isMainThread || parentPort === null) {
    process.stderr.write(`moor ${WORKER_SUBCOMMAND}: internal to moor server, not a command\n`);
    return 2;
  }
  const input = workerData as WorkerInput;
  const log = createLogger({ name: 'moor-server', level: input.logLevel as 'info' }).child({ thread: 'controlplane' });
  const cp = startControlPlane({ clientConfig: input.clientConfig, log, config: { ...input.config, thread: 'main' } });
  const port = parentPort;
  port.postMessage('started');
  await new Promise<void>((resolve) => {
    port.on('message', (m: unknown) => {
      if (m !== 'stop') return;
      cp.stop().then(() => resolve(), (err: unknown) => {
        log.error({ err: (err as Error).message }, 'stop scheduler and controllers failed');
        resolve();
      });
    });
  });
  port.postMessage('stopped');
  port.close();
  return 0;
}
