// `slimnet summary`: the per-layer table of a zoo architecture (built with
// the given options) or of the graph stored in a checkpoint: output shape,
// weights, biases, multiply-accumulates and activation memory per sample,
// with totals. `--json` prints the same as one JSON object.
import { humanBytes, humanCount, loadCheckpoint, summarize, type Graph, type Summary } from '../../graph/index.js';
import { archDef, archNames, buildArch, type ArchOptions } from '../../models/index.js';
import { renderTable } from '../../report/table.js';
import { count } from '../../report/format.js';
import { UsageError } from '../../util/errors.js';

export interface SummaryOptions {
  arch?: string;
  checkpoint?: string;
  json?: boolean;
  imageSize?: number;
  classes?: number;
  inChannels?: number;
  width?: number;
}

export interface SummaryReport {
  source: { arch: string; options: Required<ArchOptions> } | { checkpoint: string; meta: Record<string, unknown> };
  name: string;
  input: Record<string, number[]>;
  rows: Summary['rows'];
  totals: Summary['totals'];
  /** The totals in human-readable form. */
  readable: { params: string; weights: string; biases: string; buffers: string; macs: string; activationMemory: string };
}

function checkOptions(o: SummaryOptions): void {
  if (o.arch !== undefined && o.checkpoint !== undefined) throw new UsageError('give either --arch or --checkpoint, not both');
  if (o.arch === undefined && o.checkpoint === undefined) throw new UsageError(`give --arch NAME or --checkpoint PATH (slimnet archs lists the architectures)`);
  const archOnly = (['imageSize', 'classes', 'inChannels', 'width'] as const).filter((k) => o[k] !== undefined);
  if (o.checkpoint !== undefined && archOnly.length) {
    const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    throw new UsageError(`${archOnly.map(flag).join(', ')} ${archOnly.length === 1 ? 'applies' : 'apply'} only to --arch (a checkpoint's graph has fixed shapes)`);
  }
  for (const k of ['imageSize', 'classes', 'inChannels'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a positive integer, got ${v}`);
  }
  if (o.width !== undefined && !(Number.isFinite(o.width) && o.width > 0)) throw new UsageError(`--width must be a positive number, got ${o.width}`);
  if (o.arch !== undefined && !archNames().includes(o.arch)) {
    throw new UsageError(`unknown architecture '${o.arch}' (available: ${archNames().join(', ')}; slimnet archs describes them)`);
  }
}

/** Builds the report (no printing). Throws SlimnetErrors (UsageError, GraphError, SerializationError). */
export function summaryReport(o: SummaryOptions): SummaryReport {
  checkOptions(o);
  let graph: Graph;
  let source: SummaryReport['source'];
  if (o.arch !== undefined) {
    const opts: ArchOptions = { imageSize: o.imageSize, classes: o.classes, inChannels: o.inChannels, widthMultiplier: o.width };
    graph = buildArch(o.arch, opts);
    const defaults = archDef(o.arch).defaults;
    source = { arch: o.arch, options: { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } };
  } else {
    const { model, meta } = loadCheckpoint(o.checkpoint!);
    graph = model.graph;
    model.dispose();
    source = { checkpoint: o.checkpoint!, meta };
  }
  const s = summarize(graph);
  const t = s.totals;
  return {
    source,
    name: s.name,
    input: Object.fromEntries(graph.inputs.map((n) => [n.name, [...graph.shape(n.name)]])),
    rows: s.rows,
    totals: t,
    readable: {
      params: humanCount(t.params),
      weights: humanCount(t.weights),
      biases: humanCount(t.biases),
      buffers: humanCount(t.buffers),
      macs: humanCount(t.macs),
      activationMemory: humanBytes(t.activationBytes),
    },
  };
}

/** Right-aligns a column of strings (renderTable right-aligns numbers only). */
function alignRight(xs: string[], header: string): string[] {
  const w = Math.max(header.length, ...xs.map((x) => x.length));
  return xs.map((x) => x.padStart(w));
}

export function renderSummary(r: SummaryReport): string {
  const mem = alignRight(r.rows.map((row) => humanBytes(row.activationBytes)), 'activation memory');
  const table = renderTable(
    ['name', 'kind', 'output shape', 'weights', 'biases', 'MACs', 'activation memory'],
    r.rows.map((row, i) => [row.name, row.kind, `[${row.outputShape.join(', ')}]`, row.weights, row.biases, row.macs, mem[i]!]),
  );
  const src = 'arch' in r.source
    ? `architecture ${r.source.arch} (in-channels ${r.source.options.inChannels}, image size ${r.source.options.imageSize}, classes ${r.source.options.classes}, width ${r.source.options.widthMultiplier})`
    : `checkpoint ${r.source.checkpoint}`;
  const t = r.totals;
  const named = Object.entries(r.input);
  const inputs = named.length === 1 && named[0]![0] === 'input' ? `[${named[0]![1].join(', ')}]` : named.map(([n, s]) => `${n} [${s.join(', ')}]`).join(', ');
  return [
    `${r.name}: ${src}; input ${inputs} per sample`,
    '',
    table,
    '',
    `parameters         ${r.readable.params} (${count(t.params)}: ${r.readable.weights} weights, ${r.readable.biases} biases)` +
      (t.buffers ? `, plus ${r.readable.buffers} buffer elements` : ''),
    `MACs               ${r.readable.macs} per sample (${count(t.macs)})`,
    `activation memory  ${r.readable.activationMemory} per sample (float32 outputs of every node)`,
  ].join('\n');
}

/** The command: prints the table or the JSON. Errors are thrown: the CLI prints a SlimnetError as one line. */
export function summaryCommand(o: SummaryOptions): number {
  const report = summaryReport(o);
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${renderSummary(report)}\n`);
  return 0;
}
