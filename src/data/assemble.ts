// Building one batch's arrays from a data set and a transform. Shared by the
// DataLoader's main-thread path and its worker thread, so both give the same
// bytes; it imports nothing from the tensor engine (the worker never loads
// libtorch).
import { ArrayDataset, GET_ASYNC, getSampleAsync, subset, type Dataset, type DatasetSpec, type Sample } from './dataset.js';
import { ImageFolderDataset } from './folder.js';
import { hashSeed, mulberry32 } from '../util/rng.js';
import type { ImageShape, Transform } from './transforms.js';

export interface BatchArrays {
  x: Float32Array;
  y: BigInt64Array;
}

/** The RNG stream of one sample in one epoch. */
export function sampleRng(seed: number, epoch: number, index: number): () => number {
  return mulberry32(hashSeed(seed, epoch, index));
}

export async function assembleBatch(ds: Dataset, transform: Transform | undefined, outShape: ImageShape, indices: Int32Array, epoch: number, seed: number): Promise<BatchArrays> {
  const size = outShape[0] * outShape[1] * outShape[2];
  const x = new Float32Array(indices.length * size);
  const y = new BigInt64Array(indices.length);
  const put = (k: number, s: Sample): void => {
    const index = indices[k]!;
    let img = { data: s.image, shape: [...ds.sampleShape] as ImageShape };
    if (transform) img = transform.apply(img, { rand: sampleRng(seed, epoch, index), index, epoch });
    if (img.data.length !== size || img.shape.some((d, i) => d !== outShape[i])) {
      throw new RangeError(`${ds.name}: sample ${index} has shape [${img.shape.join(', ')}] after transforms, expected [${outShape.join(', ')}]`);
    }
    x.set(img.data, k * size);
    y[k] = BigInt(s.label);
  };
  if (typeof (ds as Partial<Record<typeof GET_ASYNC, unknown>>)[GET_ASYNC] === 'function') {
    // Decode the whole batch concurrently (libvips runs on its own threads).
    const samples = await Promise.all(Array.from(indices, (i) => getSampleAsync(ds, i)));
    samples.forEach((s, k) => put(k, s));
  } else {
    for (let k = 0; k < indices.length; k++) put(k, ds.get(indices[k]!));
  }
  return { x, y };
}

/** Rebuilds a data set from its portable spec (in the loader's worker). */
export function datasetFromSpec(spec: DatasetSpec): Dataset {
  switch (spec.kind) {
    case 'array':
      return new ArrayDataset(spec.name, spec.images, spec.labels, spec.shape, spec.classes);
    case 'subset':
      return subset(datasetFromSpec(spec.base), spec.indices, spec.name);
    case 'folder':
      return new ImageFolderDataset(spec.name, spec.files, spec.labels, spec.classes, spec.size, spec.channels, spec.cacheSize);
  }
}
