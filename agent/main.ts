// `moor agent`: wiring only. Flags and config file -> logger -> agent -> signals. Exit status 2 for
// a bad flag or config, 1 when the agent cannot start (runtime unreachable, port taken), 0 after a
// clean stop on SIGTERM or SIGINT (the pods keep running).

import { createLogger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { Agent } from './agent.ts';
import { ConfigError, loadConfig, parseArgs, usage } from './config.ts';

export async function runAgentMain(argv: readonly string[]): Promise<number> {
  let config;
  try {
    if (parseArgs(argv).help) {
      process.stdout.write(usage());
      return 0;
    }
    config = await loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`moor agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ name: 'moor-agent', level: config.logLevel });
  const agent = new Agent({ config, log });
  try {
    await agent.start();
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'agent failed to start');
    process.stderr.write(`moor agent: ${errorMessage(err)}\n`);
    await agent.stop().catch(() => undefined);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'stopping');
  await agent.stop();
  return 0;
}
