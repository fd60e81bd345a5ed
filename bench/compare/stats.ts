// Summaries of timing samples.

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile: a value that was actually measured. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** A whole-number setting of a bench from the environment (1 or more), or `fallback`. */
export function positive(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number of 1 or more, not ${JSON.stringify(process.env[name])}`);
  return v;
}
