// The flags of `slimnet export`.
import type { Command } from 'commander';
import { number } from '../parse-args.js';

/** Registers every flag and the help text of `slimnet export`. */
export function addExportOptions(cmd: Command): Command {
  return cmd
    .option('--arch <name>', 'zoo architecture to export (randomly initialised)')
    .option('--checkpoint <path>', 'export the model stored in a slimnet checkpoint instead of --arch')
    .option('--out <path>', 'the .onnx file to write')
    .option('--verify', 'run the file in onnxruntime on a random batch, print the max abs difference to slimnet and exit 1 if it exceeds the tolerance (default: off)')
    .option('--tolerance <x>', 'largest max abs difference --verify accepts (default: 1e-4)', number('float'))
    .option('--opset <n>', 'ONNX opset version, 13 to 21 (default: 17)', number('int'))
    .option('--image-size <n>', "input height and width (default: the architecture's)", number('int'))
    .option('--classes <n>', "number of classes (default: the architecture's)", number('int'))
    .option('--in-channels <n>', "input channels (default: the architecture's)", number('int'))
    .option('--width <x>', "width multiplier (default: the architecture's)", number('float'))
    .option('--seed <n>', 'seed of the random weights with --arch (default: 0)', number('int'))
    .addHelpText('after', '\nExamples:\n  slimnet export --arch resnet20 --out resnet20.onnx --verify\n  slimnet export --checkpoint runs/pruned.safetensors --out pruned.onnx --opset 13');
}
