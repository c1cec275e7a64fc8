// Guard: imports follow the layer direction the README's Layout describes.
// Every non-test .ts file under src is parsed for its imports (static,
// type-only, re-exports, side-effect and dynamic import()), and each import of
// another src directory must go down the stack:
//
//   entry (src/*.ts, the package face)
//     → cli → workflows → study → features → models → graph → tensor
//
// with src/util at the bottom, importable from anywhere (and importing only
// util). The entry may import every layer but cli (the CLI is a program on
// top of the library, not part of it) and nothing imports the entry. The
// native addon is reached only through src/tensor: nothing outside it
// imports tensor/native.ts or tensor/dispatch.ts. src/fuzz, the harness that
// feeds malformed files to the loaders (scripts/fuzz.ts runs it), sits beside
// study, above the features it exercises, and nothing in src imports it.
//
// Features are one layer, but not a flat one: they may import each other
// only along FEATURE_DEPS below, a DAG read from what each one is for —
// data (data sets, loaders), report (formatting, tables, plots), runs (run
// directories) and export (ONNX) stand alone; measure times exported models
// (→ export); train consumes batches (→ data) and checkpoints into run
// directories (→ runs); prune retrains (→ train), counts and times (→
// measure, export) and reads data (→ data); distill trains (→ train), takes
// teachers from ONNX (→ export), caches teacher logits over a data set (→
// data) and joins prune's recovery registry (→ prune); explain reads data
// (backgrounds, superpixels of images) and draws (→ data, report); replace edits
// graphs and fits its branches on training batches (→ train, data). Anything else — a trainer that
// prunes, a data set that formats a table — is a workflow's job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles, stripComments } from './util/testing/source.js';

const SRC = fileURLToPath(new URL('.', import.meta.url));

const FEATURES = ['data', 'report', 'runs', 'export', 'measure', 'train', 'prune', 'distill', 'explain', 'replace'] as const;
type Feature = (typeof FEATURES)[number];

/** Which features each feature may import (directly). */
const FEATURE_DEPS: Record<Feature, readonly Feature[]> = {
  data: [],
  report: [],
  runs: [],
  export: [],
  measure: ['export'],
  train: ['data', 'runs'],
  prune: ['train', 'measure', 'export', 'data'],
  distill: ['train', 'export', 'data', 'prune'],
  explain: ['data', 'report'],
  replace: ['train', 'data'],
};

/** Rank of each layer: an import must go to a lower rank (features: see FEATURE_DEPS). */
const RANK: Record<string, number> = {
  util: 0,
  tensor: 1,
  graph: 2,
  models: 3,
  ...Object.fromEntries(FEATURES.map((f) => [f, 4])),
  study: 5,
  fuzz: 5,
  workflows: 6,
  cli: 7,
  entry: 8,
};

/** The layer of a path relative to src: its first directory, or 'entry' for files directly in src. */
function layerOf(rel: string): string {
  const parts = rel.split(/[\\/]/);
  return parts.length === 1 ? 'entry' : parts[0]!;
}

/** Why `from` may not import `to` (a path relative to src), or null when it may. */
export function violation(from: string, to: string): string | null {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!(a in RANK)) return `'${a}' is not a known layer (add it to RANK in layers.test.ts and to the README's Layout)`;
  if (!(b in RANK)) return `'${b}' is not a known layer`;
  if (b === 'tensor' && a !== 'tensor' && /^tensor[\\/](native|dispatch)\.ts$/.test(to)) return 'the addon is reached only through the Tensor API (src/tensor/index.ts)';
  if (a === b) return null;
  if (b === 'util') return null;
  if (a === 'util') return 'util is the bottom layer: it imports only util';
  if (b === 'entry') return 'nothing imports the package entry; import the layer itself';
  if (b === 'fuzz') return 'the fuzz harness is a tool, not part of the library: nothing imports it';
  if (a === 'entry') return b === 'cli' ? 'the package entry does not include the CLI' : null;
  const fa = FEATURE_DEPS[a as Feature];
  if (fa && RANK[b] === RANK[a]) return fa.includes(b as Feature) ? null : `feature '${a}' may import only ${fa.length ? fa.join(', ') : 'no other feature'} (FEATURE_DEPS)`;
  return RANK[b]! < RANK[a]! ? null : `${a} is above ${b}: imports go down (cli → workflows → study → features → models → graph → tensor)`;
}

/** Module specifiers a source file imports, with their line. */
export function importsOf(source: string): { spec: string; line: number }[] {
  const src = stripComments(source);
  const out: { spec: string; line: number }[] = [];
  const patterns = [
    // import x from '…', import type { … } from '…', export { … } from '…', export * from '…' (possibly multi-line)
    /(?:^|[;}\s])(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s*(['"])([^'"]+)\1/g,
    // import '…' (side effects)
    /(?:^|[;}\s])import\s*(['"])([^'"]+)\1/g,
    // import('…') (dynamic)
    /(?<![\w.])import\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of src.matchAll(re)) out.push({ spec: m[2]!, line: src.slice(0, m.index! + m[0].length).split('\n').length });
  }
  return out;
}

/** Every import that breaks the layer rules, as 'file:line imports spec: why'. */
function violations(): string[] {
  const bad: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    for (const { spec, line } of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const to = relative(SRC, target);
      if (to.startsWith('..') || to.split(sep)[0] === '..') {
        bad.push(`${from}:${line} imports '${spec}': outside src`);
        continue;
      }
      const why = violation(from, to);
      if (why) bad.push(`${from}:${line} imports '${spec}': ${why}`);
    }
  }
  return bad;
}

test('imports follow the layer direction (cli → workflows → study → features → models → graph → tensor; util anywhere)', () => {
  const bad = violations();
  assert.deepEqual(bad, [], `layer violations:\n  ${bad.join('\n  ')}`);
});

test('the layer rules and the import parser catch what they should', () => {
  // Down the stack, util from anywhere, within a layer, allowed feature edges: fine.
  for (const [a, b] of [
    ['cli/main.ts', 'workflows/index.ts'],
    ['workflows/prune.ts', 'study/index.ts'],
    ['study/thesis.ts', 'prune/index.ts'],
    ['prune/protocol.ts', 'train/index.ts'],
    ['measure/latency.ts', 'export/onnx/export.ts'],
    ['models/lenet.ts', 'graph/index.ts'],
    ['graph/model.ts', 'tensor/index.ts'],
    ['tensor/tensor.ts', 'tensor/native.ts'],
    ['graph/ir.ts', 'util/errors.ts'],
    ['index.ts', 'workflows/index.ts'],
  ] as const) assert.equal(violation(a, b), null, `${a} → ${b}`);
  // Up the stack, sideways between features off the DAG, util upwards, the addon from outside tensor, the CLI from the entry.
  for (const [a, b, re] of [
    ['graph/model.ts', 'train/index.ts', /graph is above train|imports go down/],
    ['prune/protocol.ts', 'workflows/index.ts', /imports go down/],
    ['workflows/train.ts', 'cli/progress.ts', /imports go down/],
    ['train/trainer.ts', 'prune/index.ts', /feature 'train' may import only data, runs/],
    ['data/loader.ts', 'report/format.ts', /feature 'data' may import only no other feature/],
    ['util/events.ts', 'tensor/index.ts', /util is the bottom layer/],
    ['graph/model.ts', 'tensor/native.ts', /only through the Tensor API/],
    ['index.ts', 'cli/main.ts', /does not include the CLI/],
    ['workflows/train.ts', 'index.ts', /nothing imports the package entry/],
    ['newlayer/x.ts', 'graph/index.ts', /not a known layer/],
    ['workflows/prune.ts', 'fuzz/campaign.ts', /nothing imports it/],
  ] as const) assert.match(violation(a, b) ?? 'allowed', re, `${a} → ${b}`);
  // Every import form is seen; commented-out imports are not.
  const src = [
    "import { a } from '../graph/index.js';",
    "import type { B } from '../train/index.js';",
    "export * from '../prune/index.js';",
    'export {',
    '  c,',
    "  type D,",
    "} from '../data/index.js';",
    "import '../graph/kinds/index.js';",
    "const m = await import('../workflows/index.js');",
    "// import { x } from '../cli/main.js';",
    "/* import '../cli/progress.js'; */",
    "const s = 'import nothing from here';",
  ].join('\n');
  assert.deepEqual(
    importsOf(src).map((i) => `${i.line} ${i.spec}`).sort(),
    ['1 ../graph/index.js', '2 ../train/index.js', '3 ../prune/index.js', '7 ../data/index.js', '8 ../graph/kinds/index.js', '9 ../workflows/index.js'].sort(),
  );
});
