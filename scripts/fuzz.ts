// npm run fuzz -- [--cases N] [--seed S] [--format checkpoint|state|idx|idx-gz|cifar|image|all[,...]]
//                 [--batch N] [--timeout-ms MS]
// Makes N malformed files per format from valid ones (seeded), feeds each to
// its loader in child processes (see src/fuzz/campaign.ts), prints the counts
// per format and outcome and the failing cases, and ends with one JSON line.
// Exit code 0 when the bar holds (no native abort, no hang, no error outside
// the SlimnetError root or without the file name), 1 otherwise.
import { FAILING, OUTCOMES, runCampaign, type CampaignReport } from '../src/fuzz/campaign.js';
import { FUZZ_FORMATS, type FuzzFormat } from '../src/fuzz/formats.js';

function parseArgs(argv: readonly string[]): { cases: number; seed: number; formats: FuzzFormat[]; batch: number; timeoutMs: number } {
  const o = { cases: 10_000, seed: 1, formats: [...FUZZ_FORMATS] as FuzzFormat[], batch: 1000, timeoutMs: 10_000 };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be a whole number >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const v = argv[++i];
    if (flag === '--cases') o.cases = int(flag, v, 1);
    else if (flag === '--seed') o.seed = int(flag, v, 0);
    else if (flag === '--batch') o.batch = int(flag, v, 1);
    else if (flag === '--timeout-ms') o.timeoutMs = int(flag, v, 100);
    else if (flag === '--format') {
      const names = (v ?? '').split(',');
      o.formats = names.includes('all') ? [...FUZZ_FORMATS] : (names as FuzzFormat[]);
      for (const f of o.formats) if (!FUZZ_FORMATS.includes(f)) throw new Error(`--format must be one of ${FUZZ_FORMATS.join(', ')} or all, got ${f}`);
    } else throw new Error(`unknown option ${flag} (options: --cases N --seed S --format F --batch N --timeout-ms MS)`);
  }
  return o;
}

function table(r: CampaignReport): string {
  const head = ['format', ...OUTCOMES];
  const rows = [...Object.entries(r.formats).map(([f, c]) => [f, ...OUTCOMES.map((o) => String(c[o]))]), ['total', ...OUTCOMES.map((o) => String(r.total[o]))]];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  let o: ReturnType<typeof parseArgs>;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: error: ${(e as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`fuzz: ${o.cases} cases per format (${o.formats.join(', ')}), seed ${o.seed}, ${o.timeoutMs} ms per case\n`);
  const r = await runCampaign({
    ...o,
    onBatch: (format, done, c) => process.stderr.write(`  ${format} ${done}/${o.cases}: ${OUTCOMES.filter((k) => c[k]).map((k) => `${k} ${c[k]}`).join(', ')}\n`),
  });
  process.stdout.write(`\n${table(r)}\n\n`);
  const failing = r.examples.filter((e) => FAILING.includes(e.outcome));
  for (const e of failing) process.stdout.write(`${e.outcome}: ${e.format} case ${e.index} (seed ${r.seed}; ${e.how})\n  ${(e.message ?? '').split('\n').slice(0, 4).join('\n  ')}\n`);
  if (!failing.length) {
    process.stdout.write('samples of rejections:\n');
    for (const e of r.examples.filter((x) => x.outcome === 'rejected')) process.stdout.write(`  ${e.format} (${e.how}): ${e.message}\n`);
  }
  process.stdout.write(`${r.pass ? 'bar met' : 'BAR NOT MET'}: ${FAILING.map((f) => `${r.total[f]} ${f}`).join(', ')} in ${r.seconds} s\n`);
  const { examples: _examples, ...summary } = r;
  process.stdout.write(`${JSON.stringify({ fuzz: summary })}\n`);
  return r.pass ? 0 : 1;
}

main().then((code) => process.exit(code));
