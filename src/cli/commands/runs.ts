// `slimnet runs`: every run under the runs directory in one table.
import { humanCount } from '../../graph/summary.js';
import { effectiveStatus, listRuns } from '../../runs/index.js';
import { renderTable } from '../../report/table.js';
import { pct, shortDate } from '../../report/format.js';

export function runsCommand(o: { runsDir: string; json?: boolean }): number {
  const runs = listRuns(o.runsDir).map((r) => {
    const s = r.status;
    const cfg = r.config ?? {};
    return {
      command: r.command,
      dataset: (s?.dataset ?? cfg.dataset ?? r.configuration) as string,
      arch: (s?.arch ?? cfg.arch ?? '') as string,
      version: r.version,
      path: r.path,
      status: s ? effectiveStatus(s) : 'unknown',
      epochsDone: s?.epochsDone ?? 0,
      epochs: s?.epochs ?? (cfg.epochs as number | undefined) ?? null,
      bestValAccuracy: s?.bestValAccuracy ?? null,
      testAccuracy: s?.test?.accuracy ?? null,
      testBalancedAccuracy: s?.test?.balancedAccuracy ?? null,
      params: s?.params ?? null,
      macs: s?.macs ?? null,
      created: s?.created ?? null,
    };
  });
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
