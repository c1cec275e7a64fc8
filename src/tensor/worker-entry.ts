// The worker side of runInWorker: imports the task module and reports back.
import { parentPort, workerData } from 'node:worker_threads';

const { module, exportName, input } = workerData as { module: string; exportName: string; input: unknown };
const port = parentPort!;
try {
  const mod = (await import(module)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new TypeError(`${module} has no exported function '${exportName}'`);
  const value: unknown = await (fn as (i: unknown, p: (v: unknown) => void) => unknown)(input, (v) => port.postMessage({ kind: 'progress', value: v }));
  port.postMessage({ kind: 'done', value });
} catch (e) {
  const err = e as Error;
  port.postMessage({ kind: 'error', message: err.message ?? String(e), stack: err.stack });
}
