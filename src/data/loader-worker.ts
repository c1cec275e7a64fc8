// The DataLoader's producer thread: rebuilds the data set and transform from
// their specs and answers batch requests with transferable arrays.
import { parentPort, workerData } from 'node:worker_threads';
import { assembleBatch, datasetFromSpec } from './assemble.js';
import type { DatasetSpec } from './dataset.js';
import { transformFromSpec, type ImageShape, type TransformSpec } from './transforms.js';

const init = workerData as { dataset: DatasetSpec; transform?: TransformSpec; outShape: ImageShape };
const ds = datasetFromSpec(init.dataset);
const transform = init.transform ? transformFromSpec(init.transform) : undefined;
const port = parentPort!;

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: { id: number; indices: Int32Array; epoch: number; seed: number }) => {
  chain = chain.then(async () => {
    try {
      const { x, y } = await assembleBatch(ds, transform, init.outShape, m.indices, m.epoch, m.seed);
      port.postMessage({ id: m.id, x, y }, [x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]);
    } catch (e) {
      const err = e as Error & { file?: string };
      port.postMessage({ id: m.id, error: { name: err.name, message: err.message, file: err.file, stack: err.stack } });
    }
  });
});
port.postMessage({ ready: true });
