// `slimnet runs`: every run under the runs directory (workflows/runs.ts
// listRuns) in one table, or --json.
import { humanCount } from '../../graph/summary.js';
import { listRuns } from '../../workflows/runs.js';
import { renderTable } from '../../report/table.js';
import { pct, shortDate } from '../../report/format.js';

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
        `${r.epochsDone}/${r.epochs ?? '?'}`,
        pct(r.bestValAccuracy),
        pct(r.testAccuracy),
        r.params === null ? '' : humanCount(r.params),
        r.macs === null ? '' : humanCount(r.macs),
        r.status,
        shortDate(r.created ?? undefined),
      ]),
    ) + '\n',
  );
  return 0;
}
