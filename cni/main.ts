// moor-bridge's entry: run one CNI invocation with the process's environment, stdin and stdout, and
// exit with its status (stdout is a pipe, written synchronously, so exiting at once loses nothing).
// Everything else lives in plugin.ts, which tests import without running this.

import { formatCniError, toCniError } from './errors.ts';
import { runPlugin } from './plugin.ts';
import { nodeIo } from './skel.ts';

/** Set by the executable's loader when V8's code cache should be written (cni/bundle.mjs). */
const done = (globalThis as { __moorBridgeDone?: (ok: boolean) => void }).__moorBridgeDone;

const io = nodeIo();
runPlugin(io).then(
  (code) => {
    // an ADD runs nearly every function: the one worth caching
    done?.(code === 0 && io.env.CNI_COMMAND === 'ADD');
    process.exit(code);
  },
  (err: unknown) => {
    io.writeStdout(formatCniError(toCniError(err)) + '\n');
    process.exit(1);
  },
);
