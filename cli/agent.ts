// `moor agent [flags]`: the node agent. See agent/main.ts.

export async function runAgent(argv: string[]): Promise<number> {
  const { runAgentMain } = await import('../agent/main.ts');
  return runAgentMain(argv);
}
