// Kubernetes resource quantities ("100m", "0.5", "128Mi", "1G", "1e3") as plain numbers.
// Pure. CPU is read in millicores, everything else in base units (bytes for memory); values are
// rounded up like the API server's canonical form does for sub-unit precision.

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const PATTERN = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** The value of a quantity in its base unit (cores for cpu, bytes for memory); undefined when malformed. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  const m = PATTERN.exec(q.trim());
  if (m === null) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * (BINARY[m[2]] ?? DECIMAL[m[2]]);
  if (m[3] !== undefined) return base * 10 ** Number(m[3]);
  return base;
}

export function isQuantity(q: unknown): boolean {
  return (typeof q === 'string' || typeof q === 'number') && parseQuantity(q) !== undefined;
}

/** CPU in millicores, rounded up ("0.1" -> 100, "1" -> 1000, "250m" -> 250). */
export function milliCpu(q: string | number): number {
  const v = parseQuantity(q);
  if (v === undefined) throw new Error(`parse cpu quantity ${JSON.stringify(q)}: malformed`);
  return Math.ceil(Math.round(v * 1e6) / 1e3);
}

/** Bytes, rounded up ("128Mi" -> 134217728, "1G" -> 1e9). */
export function bytes(q: string | number): number {
  const v = parseQuantity(q);
  if (v === undefined) throw new Error(`parse memory quantity ${JSON.stringify(q)}: malformed`);
  return Math.ceil(v);
}
