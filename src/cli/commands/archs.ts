// `slimnet archs`: the zoo's architectures with their default input, classes,
// parameters and MACs per sample (each graph built with its defaults and
// counted by the summary), or --json. `slimnet summary --arch NAME` shows
// one of them layer by layer.
import { humanBytes, humanCount, summarize } from '../../graph/index.js';
import { archDef, archNames, buildArch } from '../../models/index.js';
import { renderTable } from '../../report/table.js';

/** One architecture of the zoo, built with its defaults. */
export interface ArchRow {
  name: string;
  description: string;
  /** Default input [channels, height, width] per sample. */
  input: [number, number, number];
  classes: number;
  /** Trainable parameters and multiply-accumulates per sample at the default input. */
  params: number;
  macs: number;
  /** Float32 outputs of every node per sample (what a training batch keeps per sample, roughly). */
  activationBytes: number;
}

export function archRows(): ArchRow[] {
  return archNames().map((name) => {
    const d = archDef(name);
    const s = summarize(buildArch(name)).totals;
    return {
      name,
      description: d.description,
      input: [d.defaults.inChannels, d.defaults.imageSize, d.defaults.imageSize],
      classes: d.defaults.classes,
      params: s.params,
      macs: s.macs,
      activationBytes: s.activationBytes,
    };
  });
}

export function archsCommand(o: { json?: boolean }): number {
  const rows = archRows();
  if (o.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  process.stdout.write(
    renderTable(
      ['arch', 'input', 'classes', 'params', 'MACs', 'activations / sample'],
      rows.map((r) => [r.name, r.input.join('×'), r.classes, humanCount(r.params), humanCount(r.macs), humanBytes(r.activationBytes)]),
      { align: ['left', 'left', 'right', 'right', 'right', 'right'] },
    ) + '\n\nEach at its default input (--json adds a description). train and slim take --arch NAME; slimnet summary --arch NAME shows one layer by layer.\n',
  );
  return 0;
}
