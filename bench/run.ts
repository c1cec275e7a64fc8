// `npm run bench -- NAME [options]` runs bench/NAME.ts. Each benchmark
// module exports `description` and `main(argv)`; it prints human-readable
// figures and ends with exactly one JSON line on stdout.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchModule {
  description: string;
  main(argv: string[]): Promise<void> | void;
}

const here = dirname(fileURLToPath(import.meta.url));

function available(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<BenchModule> {
  return (await import(pathToFileURL(`${here}/${name}.ts`).href)) as BenchModule;
}

async function usage(stream: NodeJS.WriteStream): Promise<void> {
  stream.write('usage: npm run bench -- NAME [options]\n\nbenchmarks:\n');
  for (const name of available()) {
    let description: string;
    try {
      description = (await load(name)).description ?? '';
    } catch (e) {
      description = `(cannot load: ${(e as Error).message})`;
    }
    stream.write(`  ${name.padEnd(12)} ${description}\n`);
  }
}

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  await usage(process.stdout);
  process.exit(name === undefined ? 1 : 0);
}
if (!available().includes(name)) {
  process.stderr.write(`unknown benchmark '${name}'\n\n`);
  await usage(process.stderr);
  process.exit(2);
}
const mod = await load(name);
if (typeof mod.main !== 'function') {
  process.stderr.write(`bench/${name}.ts does not export main()\n`);
  process.exit(2);
}
await mod.main(rest);
