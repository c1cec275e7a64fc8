// Guard: every ATen operator the source names, with its overload, exists in
// the libtorch this process loaded. Names are resolved lazily at the first
// call, so a misspelt overload or an op that a libtorch release renamed would
// otherwise surface only when (if ever) a test reaches that line. The names
// are collected from the source itself (string literals 'aten::x.overload',
// and templates such as `aten::${name}.Tensor` expanded at the call sites of
// the helper they sit in), so a new op is covered without touching this file;
// a template this test cannot expand fails it, naming file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles, stripComments } from '../util/testing/source.js';
import { op } from './dispatch.js';

const SRC = fileURLToPath(new URL('..', import.meta.url));

interface Found {
  /** Fully qualified op names, e.g. 'aten::add.Tensor', with where each was seen. */
  names: Map<string, string>;
  /** Templates that could not be expanded, as 'file:line: `template`'. */
  unexpanded: string[];
}

/** The text of the k-th argument of the call whose '(' is at `open`, or null past the last. */
function argument(src: string, open: number, k: number): string | null {
  let depth = 0;
  let index = 0;
  let start = open + 1;
  for (let i = open + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    else if ((c === ',' || c === ')') && depth === 0) {
      if (index === k) return src.slice(start, i).trim();
      if (c === ')') return null;
      index++;
      start = i + 1;
    }
  }
  return null;
}

const lineOf = (src: string, pos: number): number => src.slice(0, pos).split('\n').length;
const literal = (text: string): string | null => /^(['"])([^'"\\]*)\1$/.exec(text)?.[2] ?? null;
const qualify = (name: string): string => (name.includes('::') ? name : `aten::${name}`);

/** Values `${expr}` can take inside the function declared before `pos` in `src`, or null when unknown. */
function expand(src: string, pos: number, expr: string): string[] | null {
  const cond = /^[\w.]+\s*\?\s*(['"])(\w*)\1\s*:\s*(['"])(\w*)\3$/.exec(expr.trim());
  if (cond) return [cond[2]!, cond[4]!];
  if (!/^\w+$/.test(expr.trim())) return null;
  // The innermost function declared before the template, and which parameter `expr` is.
  const decls = [...src.slice(0, pos).matchAll(/function\s+(\w+)\s*\(([^)]*)\)/g)];
  const decl = decls[decls.length - 1];
  if (!decl) return null;
  const fn = decl[1]!;
  const params = decl[2]!.split(',').map((p) => p.split(':')[0]!.replace('?', '').trim());
  const k = params.indexOf(expr.trim());
  if (k < 0) return null;
  const exported = new RegExp(`export\\s+(async\\s+)?function\\s+${fn}\\b`).test(src);
  const values: string[] = [];
  for (const m of src.matchAll(new RegExp(`(?<![\\w.])${fn}\\s*\\(`, 'g'))) {
    if (/function\s+$/.test(src.slice(Math.max(0, m.index! - 20), m.index!))) continue;
    const arg = argument(src, m.index! + m[0].length - 1, k);
    const v = arg === null ? null : literal(arg);
    if (v !== null) values.push(v);
    // An exported helper is also called with names built elsewhere; those literals are collected where they are written.
    else if (!exported) return null;
  }
  return values.length || exported ? values : null;
}

/** Op names named in one file's source (comments ignored). */
export function collectOpNames(source: string, file: string, into: Found = { names: new Map(), unexpanded: [] }): Found {
  const src = stripComments(source);
  const add = (name: string, pos: number) => {
    if (!into.names.has(name)) into.names.set(name, `${file}:${lineOf(src, pos)}`);
  };
  for (const m of src.matchAll(/(['"])(aten::[\w.]+)\1/g)) add(m[2]!, m.index!);
  // Bare names given to op(): the namespace defaults to aten.
  for (const m of src.matchAll(/(?<![\w.])op\(\s*(['"])([\w.]+)\1\s*\)/g)) add(qualify(m[2]!), m.index!);
  for (const m of src.matchAll(/`(aten::[^`]*)`/g)) {
    const template = m[1]!;
    if (!template.includes('${')) {
      add(template, m.index!);
      continue;
    }
    // Expand each ${...} in turn; every combination is a name.
    let names = [''];
    let ok = true;
    for (const part of template.split(/(\$\{[^}]*\})/)) {
      if (!part.startsWith('${')) {
        names = names.map((n) => n + part);
        continue;
      }
      const values = expand(src, m.index!, part.slice(2, -1));
      if (values === null) {
        ok = false;
        break;
      }
      names = names.flatMap((n) => values.map((v) => n + v));
    }
    if (!ok) into.unexpanded.push(`${file}:${lineOf(src, m.index!)}: \`${template}\``);
    else for (const n of names) add(n, m.index!);
  }
  return into;
}

/** Names among `names` that libtorch does not know, with libtorch's message. */
function unresolved(names: Iterable<string>): { name: string; message: string }[] {
  const bad: { name: string; message: string }[] = [];
  for (const name of names) {
    try {
      void op(name).handle;
    } catch (e) {
      bad.push({ name, message: (e as Error).message });
    }
  }
  return bad;
}

test('every aten:: op name in the source (with its overload) resolves in the loaded libtorch', () => {
  const found: Found = { names: new Map(), unexpanded: [] };
  for (const f of sourceFiles(SRC)) collectOpNames(readFileSync(f, 'utf8'), relative(SRC, f), found);
  assert.deepEqual(found.unexpanded, [], 'templates this test cannot expand: write the op names out, or call the helper with literal names');
  // The collection found the tensor layer's ops, the templated ones included.
  for (const n of ['aten::conv2d', 'aten::conv2d.padding', 'aten::batch_norm', 'aten::add.Tensor', 'aten::add.Scalar', 'aten::div.Scalar', 'aten::eq.Tensor', 'aten::ge.Scalar', 'aten::addcmul_']) {
    assert.ok(found.names.has(n), `${n} was not collected`);
  }
  assert.ok(found.names.size >= 120, `only ${found.names.size} op names collected`);
  const bad = unresolved(found.names.keys()).map((b) => `${found.names.get(b.name)}: ${b.message}`);
  assert.deepEqual(bad, [], `op names libtorch does not know:\n  ${bad.join('\n  ')}`);
});

test('the guard fails on a misspelt op, a wrong overload and an unexpandable template', () => {
  const src = [
    "const a = op('aten::conv2dd').call(x);",
    "const b = op('aten::add.Tensr').call(x, y);",
    "const c = op('relu').call(x); // op('aten::in_a_comment_only')",
    'function pick(name: string, t: Tensor) { return op(`aten::${name}.Scalar`).call(t.handle, 1); }',
    "pick('mul', t); pick('dvi', t);",
    'function loose(name: string) { return op(`aten::${name}_`); }',
    'loose(someVariable);',
  ].join('\n');
  const found = collectOpNames(src, 'synthetic.ts');
  assert.deepEqual([...found.names.keys()].sort(), ['aten::add.Tensr', 'aten::conv2dd', 'aten::dvi.Scalar', 'aten::mul.Scalar', 'aten::relu'].sort());
  assert.deepEqual(found.unexpanded, ['synthetic.ts:6: `aten::${name}_`']);
  const bad = unresolved(found.names.keys()).map((b) => b.name);
  assert.deepEqual(bad.sort(), ['aten::add.Tensr', 'aten::conv2dd', 'aten::dvi.Scalar'].sort());
});
