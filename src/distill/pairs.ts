// Which teacher feature each student feature is compared with. Features are
// node outputs, read by hooks (no model is rewritten). By default the pairs
// are the stage outputs: the last node at each spatial size, the place where
// RepDistiller and torchdistill tap a ResNet (the end of each group of
// blocks). A student whose stage outputs carry the teacher's node names (a
// pruned model and its unpruned parent: pruning keeps names) is paired by
// name; otherwise by spatial size. Pairs given by name override both.
import type { Graph } from '../graph/index.js';
import { DistillError } from './errors.js';

export interface FeaturePair {
  student: string;
  teacher: string;
  /** Per-sample output shapes [C, H, W] of the two nodes. */
  studentShape: readonly number[];
  teacherShape: readonly number[];
}

export type PairingMode = 'name' | 'spatial' | 'given';

export interface Pairing {
  pairs: FeaturePair[];
  mode: PairingMode;
}

/** The last node at each spatial size, in execution order (nodes with a [C, H, W] output, the input excluded). */
export function stageOutputs(graph: Graph): string[] {
  const inputs = new Set(graph.inputs.map((n) => n.name));
  const out: string[] = [];
  let lastKey = '';
  for (const node of graph.nodes) {
    if (inputs.has(node.name)) continue;
    const s = graph.shape(node.name);
    if (s.length !== 3) continue;
    const key = `${s[1]}x${s[2]}`;
    if (key === lastKey) out[out.length - 1] = node.name;
    else {
      // A size seen before (e.g. an upsampling path) starts a new stage too.
      out.push(node.name);
      lastKey = key;
    }
  }
  return out;
}

const spatial = (s: readonly number[]): string => (s.length === 3 ? `${s[1]}x${s[2]}` : `(${s.join(', ')})`);
const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

function pair(student: Graph, teacher: Graph, s: string, t: string): FeaturePair {
  return { student: s, teacher: t, studentShape: student.shape(s), teacherShape: teacher.shape(t) };
}

/**
 * The feature pairs: `given` ("student:teacher" node names) when set, else by
 * name, else by spatial size. `sameSpatial`: whether some loss compares the
 * maps position by position (AT, hints), which then must agree in size.
 */
export function pairFeatures(student: Graph, teacher: Graph, o: { given?: readonly { student: string; teacher: string }[]; sameSpatial: boolean }): Pairing {
  let pairing: Pairing;
  if (o.given && o.given.length) {
    for (const p of o.given) {
      if (!student.has(p.student)) throw new DistillError(`feature pair ${p.student}:${p.teacher}: the student has no node '${p.student}' (its stage outputs: ${stageOutputs(student).join(', ')})`);
      if (!teacher.has(p.teacher)) throw new DistillError(`feature pair ${p.student}:${p.teacher}: the teacher has no node '${p.teacher}' (its stage outputs: ${stageOutputs(teacher).join(', ')})`);
    }
    pairing = { pairs: o.given.map((p) => pair(student, teacher, p.student, p.teacher)), mode: 'given' };
  } else {
    const sStages = stageOutputs(student);
    const tStages = stageOutputs(teacher);
    // By name only when the names are the teacher's stage outputs too: a resnet20 student of a resnet56
    // teacher has its own stage ends (layer1.2.relu2) as mid-stage blocks of the teacher.
    const tStageSet = new Set(tStages);
    const byName = sStages.length > 0 && sStages.length === tStages.length && sStages.every((n) => tStageSet.has(n) && spatial(teacher.shape(n)) === spatial(student.shape(n)));
    if (byName) pairing = { pairs: sStages.map((n) => pair(student, teacher, n, n)), mode: 'name' };
    else {
      const tBySize = new Map<string, string>();
      for (const n of tStages) tBySize.set(spatial(teacher.shape(n)), n); // the last teacher stage of a size
      const pairs: FeaturePair[] = [];
      for (const n of sStages) {
        const t = tBySize.get(spatial(student.shape(n)));
        if (t) pairs.push(pair(student, teacher, n, t));
      }
      if (pairs.length === 0) {
        throw new DistillError(
          `no stage of the student (${sStages.map((n) => `${n} ${spatial(student.shape(n))}`).join(', ') || 'none'}) has the spatial size of a stage of the teacher ` +
            `(${tStages.map((n) => `${n} ${spatial(teacher.shape(n))}`).join(', ') || 'none'}); name the pairs (--pairs student:teacher,...)`,
        );
      }
      pairing = { pairs, mode: 'spatial' };
    }
  }
  for (const p of pairing.pairs) {
    if (p.studentShape.length !== p.teacherShape.length) {
      throw new DistillError(`feature pair ${p.student}:${p.teacher}: the student's output is ${shapeText(p.studentShape)} per sample, the teacher's ${shapeText(p.teacherShape)}: not the same kind of feature`);
    }
    if (o.sameSpatial && p.studentShape.length === 3 && spatial(p.studentShape) !== spatial(p.teacherShape)) {
      throw new DistillError(
        `feature pair ${p.student}:${p.teacher}: spatial sizes differ (student ${shapeText(p.studentShape)}, teacher ${shapeText(p.teacherShape)} per sample); attention transfer and hints compare the maps position by position`,
      );
    }
  }
  return pairing;
}

/** Parses "s1:t1,s2:t2" (the --pairs flag). */
export function parsePairs(text: string): { student: string; teacher: string }[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const parts = p.split(':');
      if (parts.length !== 2 || !parts[0] || !parts[1]) throw new DistillError(`--pairs: '${p}' is not student_node:teacher_node`);
      return { student: parts[0], teacher: parts[1] };
    });
}
