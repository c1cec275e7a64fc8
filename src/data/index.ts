// The data layer: data sets, splits, transforms and the batch loader.
export { type Sample, type Dataset, subset, splitDataset, fraction, ArrayDataset } from './dataset.js';
export { DataError } from './errors.js';
export { DataLoader, type Batch, type DataLoaderOptions } from './loader.js';
export { loadDataset, datasetNames, FASHION_MNIST_CLASSES, FASHION_MNIST_ROOT, type DatasetName, type Split, type LoadOptions } from './registry.js';
export { readIdx, writeIdx, loadIdxPair, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx.js';
export { loadCifar, loadCifarFiles } from './cifar.js';
export { loadImageFolder, ImageFolderDataset, type FolderOptions } from './folder.js';
export * from './transforms.js';
export { resolveData, normalizationFor, trainTransform, evalTransform, type DataSpec, type ResolvedData, type NormalizeSpec, type Augment } from './spec.js';
export { AUGMENT_PRESETS, AUGMENT_TRANSFORMS, NORMALIZE_CHOICES, augmentChoicesText, augmentSteps, normalizationOf, parseAugment, type AugmentPreset, type AugmentTransform, type NormalizeChoice } from './spec.js';
export { readProvenance, checkpointData, recordedClassSubset, type Provenance, type DataOverrides } from './provenance.js';
export { selectClasses, classIndices, type ClassRef } from './classes.js';
