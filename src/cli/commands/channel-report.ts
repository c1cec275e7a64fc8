// The per-layer channel report of a pruned model, shared by prune and slim:
// the table in the log, channels.csv and channels.png in the run directory.
import { join } from 'node:path';
import type { Graph } from '../../graph/index.js';
import { barPlot, savePlot } from '../../report/plot.js';
import { atomicWriteFile } from '../../util/atomic-write.js';
import { renderTable } from '../../report/table.js';
import { pct } from '../../report/format.js';

export interface ChannelRow {
  layer: string;
  before: number;
  after: number;
}

/** Output channels of every conv / linear layer before and after. */
export function channelTable(before: Graph, after: Graph): ChannelRow[] {
  return before.nodes
    .filter((n) => n.kind === 'conv2d' || n.kind === 'linear' || n.kind === 'conv_transpose2d')
    .map((n) => ({ layer: n.name, before: before.shape(n.name)[0]!, after: after.shape(n.name)[0]! }));
}

/** Prints the table, writes channels.csv (layer names quoted: a residual group's name holds '+') and channels.png. */
export async function writeChannelReport(runPath: string, rows: readonly ChannelRow[], title: string, say: (line: string) => void): Promise<void> {
  say(renderTable(['layer', 'before', 'after', 'kept %'], rows.map((r) => [r.layer, r.before, r.after, pct(r.after / r.before, 1)])));
  atomicWriteFile(join(runPath, 'channels.csv'), Buffer.from(['layer,before,after', ...rows.map((r) => `"${r.layer}",${r.before},${r.after}`)].join('\n') + '\n'));
  await savePlot(
    barPlot({
      title,
      xLabel: 'layer',
      yLabel: 'output channels',
      categories: rows.map((r) => r.layer),
      series: [
        { name: 'before', values: rows.map((r) => r.before) },
        { name: 'after', values: rows.map((r) => r.after) },
      ],
    }),
    join(runPath, 'channels.png'),
  );
}
