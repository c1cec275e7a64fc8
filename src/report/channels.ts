// The per-layer channel report of a pruned model, shared by prune and slim:
// the table for the log, channels.csv and channels.png in a run directory.
import { join } from 'node:path';
import { hasTrait, type Graph } from '../graph/index.js';
import { barPlot, savePlot } from './plot.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import { renderTable } from './table.js';
import { pct } from './format.js';

/** One layer's output channels before and after pruning. */
export interface ChannelRow {
  layer: string;
  before: number;
  after: number;
}

/** Output channels of every conv / linear layer before and after. */
export function channelTable(before: Graph, after: Graph): ChannelRow[] {
  return before.nodes
    .filter((n) => hasTrait(n, 'conv') || hasTrait(n, 'linear'))
    .map((n) => ({ layer: n.name, before: before.shape(n.name)[0]!, after: after.shape(n.name)[0]! }));
}

/** The table as text: layer, before, after, kept %. */
export function renderChannelTable(rows: readonly ChannelRow[]): string {
  return renderTable(['layer', 'before', 'after', 'kept %'], rows.map((r) => [r.layer, r.before, r.after, pct(r.after / r.before, 1)]));
}

/** channels.csv's text. Layer names are always quoted: a residual group's name holds '+'. */
export function channelsCsv(rows: readonly ChannelRow[]): string {
  return ['layer,before,after', ...rows.map((r) => `"${r.layer}",${r.before},${r.after}`)].join('\n') + '\n';
}

/**
 * A layer's label under its bars: a residual group's name joins every coupled
 * layer with '+' ('conv1+layer1.0.conv2+layer1.1.conv2+...'), too long for an
 * axis; it shows as its first layer and how many more ('conv1 (+3)'). The
 * table and channels.csv keep the whole name.
 */
export function channelPlotLabel(layer: string): string {
  const parts = layer.split('+');
  return parts.length > 1 ? `${parts[0]} (+${parts.length - 1})` : layer;
}

/** Writes the bar plot of channels per layer (before / after) to `path`. */
export async function saveChannelPlot(rows: readonly ChannelRow[], title: string, path: string): Promise<void> {
  await savePlot(
    barPlot({
      title,
      xLabel: 'layer',
      yLabel: 'output channels',
      categories: rows.map((r) => channelPlotLabel(r.layer)),
      series: [
        { name: 'before', values: rows.map((r) => r.before) },
        { name: 'after', values: rows.map((r) => r.after) },
      ],
    }),
    path,
  );
}

/** Says the table, writes channels.csv and channels.png into `runPath`. */
export async function writeChannelReport(runPath: string, rows: readonly ChannelRow[], title: string, say: (line: string) => void): Promise<void> {
  say(renderChannelTable(rows));
  atomicWriteFile(join(runPath, 'channels.csv'), Buffer.from(channelsCsv(rows)));
  await saveChannelPlot(rows, title, join(runPath, 'channels.png'));
}
