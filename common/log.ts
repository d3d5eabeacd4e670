// The root logger factory. Only main.ts files call it; modules receive a child logger.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export function createLogger(opts: { name: string; level?: LevelWithSilent; destination?: number | string }): Logger {
  const level = opts.level ?? ((process.env.MOOR_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info');
  const dest = opts.destination ?? 2;
  return pino({ name: opts.name, level, base: { pid: process.pid } }, pino.destination({ dest, sync: true, mkdir: typeof dest === 'string' }));
}

/** A logger that writes nothing: for tests and library callers that did not pass one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
