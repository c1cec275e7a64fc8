// Runs long work (an epoch, an evaluation, a training run) in a worker thread
// so the main thread's event loop stays free to draw progress or serve
// requests. The addon is context-aware: each worker gets its own handles.
import { Worker } from 'node:worker_threads';

export interface WorkerTask<I, O, P = unknown> {
  /** URL of an ES module whose export `exportName` is `(input, progress) => O | Promise<O>`. */
  module: string | URL;
  exportName: string;
  input: I;
  onProgress?: (p: P) => void;
}

export type TaskFunction<I, O, P = unknown> = (input: I, progress: (p: P) => void) => O | Promise<O>;

// The entry has this module's own extension: worker-entry.ts under tsx,
// worker-entry.js in the build (dist/).
const ENTRY = new URL(`./worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

// On Node 20 a worker does not inherit the parent's module hooks (nor runs its
// --import preloads), so a worker cannot load .ts files even when the parent
// runs under tsx. Start it through a bootstrap that registers tsx first.
function workerScript(): { script: string | URL; isEval: boolean } {
  if (!ENTRY.pathname.endsWith('.ts')) return { script: ENTRY, isEval: false };
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const script = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
  return { script, isEval: true };
}

/** Runs `module[exportName](input, progress)` in a fresh worker thread. */
export function runInWorker<I, O, P = unknown>(task: WorkerTask<I, O, P>): Promise<O> {
  return new Promise<O>((resolve, reject) => {
    const { script, isEval } = workerScript();
    const worker = new Worker(script, {
      eval: isEval,
      workerData: { module: String(task.module), exportName: task.exportName, input: task.input },
    });
    let settled = false;
    worker.on('message', (m: { kind: 'progress'; value: P } | { kind: 'done'; value: O } | { kind: 'error'; message: string; stack?: string }) => {
      if (m.kind === 'progress') task.onProgress?.(m.value);
      else if (m.kind === 'done') {
        settled = true;
        resolve(m.value);
      } else {
        settled = true;
        const err = new Error(m.message);
        if (m.stack) err.stack = m.stack;
        reject(err);
      }
    });
    worker.on('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`worker exited with code ${code} before finishing ${task.exportName}`));
    });
  });
}
