// `slimnet runs`: every run under the runs directory (workflows/runs.ts
// listRuns) in one table, or --json. Accuracies with two decimals, counts as
// 3.27M (src/report/format.ts, graph humanCount), '-' where a command does
// not count epochs.
import { humanCount } from '../../graph/summary.js';
import { listRuns } from '../../workflows/runs.js';
import { renderTable } from '../../report/table.js';
import { pctText, shortDate } from '../../report/format.js';

export function runsCommand(o: { runsDir: string; json?: boolean }): number {
  const runs = listRuns(o.runsDir);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(runs)}\n`);
    return 0;
  }
  if (!runs.length) {
    process.stdout.write(`no runs under ${o.runsDir}\n`);
    return 0;
  }
  process.stdout.write(
    renderTable(
      ['command', 'dataset', 'arch', 'version', 'epochs', 'best val acc %', 'test acc %', 'params', 'MACs', 'status', 'date'],
      runs.map((r) => [
        r.command,
        r.dataset,
        r.arch,
        r.version,
        // prune and study runs count steps and curves, not epochs.
        r.epochs === null ? '-' : `${r.epochsDone}/${r.epochs}`,
        pctText(r.bestValAccuracy),
        pctText(r.testAccuracy),
        r.params === null ? '' : humanCount(r.params),
        r.macs === null ? '' : humanCount(r.macs),
        r.status,
        shortDate(r.created ?? undefined),
      ]),
      { align: ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'] },
    ) + '\n',
  );
  return 0;
}
