// A class subset of a data set, for transfer to a target task that is a part
// of another (TransTailor's targets: some of Fashion-MNIST's classes, a few
// CUB-200 species): only the chosen classes' samples, relabelled 0..k-1 in the
// order chosen, so a k-way head trains on them as it would on any data set.
//
// The result stays portable: the DataLoader rebuilds it in its worker from a
// spec whose leaf labels are remapped (images are shared, not copied), so a
// class subset loads as fast as the data set it is cut from.
import { GET_ASYNC, PORTABLE, checkIndex, datasetSpec, getSampleAsync, subset, type AsyncDataset, type Dataset, type DatasetSpec, type PortableDataset, type Sample } from './dataset.js';
import { DataError } from './errors.js';
import { UsageError } from '../util/errors.js';

/** A class as the user names it: its name (e.g. 'Sandal', '3'), or its index in the data set's class list. */
export type ClassRef = string | number;

/**
 * The indices, in the data set's class list, of the classes `refs` name, in
 * the order given. A string is a class name (exact, else the one name equal
 * ignoring case); a string that names no class but is a whole number, and a
 * number, are indices. An unknown class is a DataError naming it and listing
 * the data set's classes; an empty list or a class named twice (by name or
 * index alike) is a UsageError.
 */
export function classIndices(classes: readonly string[], refs: readonly ClassRef[], where = 'data set'): number[] {
  if (refs.length === 0) throw new UsageError(`classes (--classes) must name at least one class of ${where} (${listed(classes)})`);
  const out: number[] = [];
  const seen = new Map<number, ClassRef>();
  for (const ref of refs) {
    const i = resolveClass(classes, ref);
    if (i === undefined) {
      throw new DataError(where, `has no class ${JSON.stringify(ref)}; its ${classes.length} classes are ${listed(classes)}${typeof ref === 'number' || /^\d+$/.test(String(ref)) ? ` (indices 0 to ${classes.length - 1})` : ''}`);
    }
    const first = seen.get(i);
    if (first !== undefined) {
      const same = first === ref;
      throw new UsageError(`classes (--classes) names class '${classes[i]}' twice${same ? '' : ` (as ${JSON.stringify(first)} and ${JSON.stringify(ref)})`}: give each class once`);
    }
    seen.set(i, ref);
    out.push(i);
  }
  return out;
}

function resolveClass(classes: readonly string[], ref: ClassRef): number | undefined {
  if (typeof ref === 'number') return Number.isInteger(ref) && ref >= 0 && ref < classes.length ? ref : undefined;
  const exact = classes.indexOf(ref);
  if (exact >= 0) return exact;
  const folded = classes.flatMap((c, i) => (c.toLowerCase() === ref.trim().toLowerCase() ? [i] : []));
  if (folded.length === 1) return folded[0];
  if (/^\d+$/.test(ref.trim())) return resolveClass(classes, Number(ref.trim()));
  return undefined;
}

const listed = (classes: readonly string[]): string => (classes.length > 30 ? `${classes.slice(0, 30).map((c) => `'${c}'`).join(', ')}, ... (${classes.length - 30} more)` : classes.map((c) => `'${c}'`).join(', '));

/**
 * The samples of the classes `refs` names (classIndices), relabelled 0..k-1 in
 * that order, class names kept (`classes` is the chosen names, in order);
 * samples keep their order. Apply it to the train and the test split alike
 * (the same refs give the same relabelling on both).
 */
export function selectClasses(ds: Dataset, refs: readonly ClassRef[]): Dataset {
  const chosen = classIndices(ds.classes, refs, ds.name);
  const map = new Int32Array(ds.classes.length).fill(-1);
  chosen.forEach((c, k) => (map[c] = k));
  const relabelled = new RelabelledDataset(ds, map, chosen.map((c) => ds.classes[c]!));
  const labels = ds.labels();
  const keep: number[] = [];
  for (let i = 0; i < labels.length; i++) if (map[labels[i]!]! >= 0) keep.push(i);
  return subset(relabelled, keep, `${ds.name}[classes ${chosen.map((c) => ds.classes[c]).join(',')}]`);
}

/**
 * Every sample of `base` with its label mapped through `map` (-1 for a class
 * left out: selectClasses never hands those samples out). Internal: only
 * selectClasses builds it, behind a subset without the dropped samples.
 */
class RelabelledDataset implements PortableDataset {
  readonly length: number;
  constructor(
    private readonly base: Dataset,
    private readonly map: Int32Array,
    readonly classes: readonly string[],
  ) {
    this.length = base.length;
    if (typeof (base as Partial<AsyncDataset>)[GET_ASYNC] === 'function') {
      (this as unknown as AsyncDataset)[GET_ASYNC] = async (index: number) => this.relabel(await getSampleAsync(this.base, index));
    }
  }
  get name(): string {
    return this.base.name;
  }
  get sampleShape(): readonly [number, number, number] {
    return this.base.sampleShape;
  }
  get(index: number): Sample {
    checkIndex(this, index);
    return this.relabel(this.base.get(index));
  }
  private relabel(s: Sample): Sample {
    return { image: s.image, label: this.map[s.label]! };
  }
  labels(): Int32Array {
    return this.base.labels().map((l) => this.map[l]!);
  }
  [PORTABLE](): DatasetSpec | undefined {
    const spec = datasetSpec(this.base);
    return spec && relabelSpec(spec, this.map, this.classes);
  }
}

/** The same samples with their labels mapped at the leaf (array or folder); subsets above it are kept. */
function relabelSpec(spec: DatasetSpec, map: Int32Array, classes: readonly string[]): DatasetSpec {
  switch (spec.kind) {
    case 'subset':
      return { ...spec, base: relabelSpec(spec.base, map, classes) };
    case 'array':
    case 'folder':
      return { ...spec, labels: spec.labels.map((l) => map[l]!), classes: [...classes] };
  }
}
