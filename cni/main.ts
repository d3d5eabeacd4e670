// moor-bridge's entry: run one CNI invocation with the process's environment, stdin and stdout, and
// exit with its status (stdout is a pipe, written synchronously, so exiting at once loses nothing).
// Everything else lives in plugin.ts, which tests import without running this.

import { formatCniError, toCniError } from './errors.ts';
import { runPlugin } from './plugin.ts';
import { nodeIo } from './skel.ts';

const io = nodeIo();
runPlugin(io).then(
  (code) => process.exit(code),
  (err: unknown) => {
    io.writeStdout(formatCniError(toCniError(err)) + '\n');
    process.exit(1);
  },
);
