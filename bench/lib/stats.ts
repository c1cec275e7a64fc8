// Small helpers shared by the benchmarks.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Parses `--name value` and `--flag` options over defaults (numbers, strings and booleans). */
export function parseArgs<T extends Record<string, number | string | boolean>>(argv: readonly string[], defaults: T): T {
  const out: Record<string, number | string | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const key = a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option '${a}' (known: ${Object.keys(defaults).map((k) => '--' + k).join(', ')})`);
    const d = defaults[key];
    if (typeof d === 'boolean') {
      out[key] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`option '${a}' needs a value`);
    if (typeof d === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`option '${a}' expects a number, got '${v}'`);
      out[key] = n;
    } else {
      out[key] = v;
    }
  }
  return out as T;
}

export function rssMb(): number {
  return process.memoryUsage.rss() / 2 ** 20;
}

export function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}
