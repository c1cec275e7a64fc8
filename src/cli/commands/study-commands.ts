// `slimnet study <name>`: the experiment grids that reproduce a seed's
// results. Registering them loads only their option modules; each command's
// code loads when it runs.
import type { Command } from 'commander';
import { addStudyThesisOptions, type StudyRawOptions } from './study-options.js';
import { addStudyDistillOptions, type StudyDistillRawOptions } from './study-distill-options.js';
import { addStudyTransTailorOptions, type StudyTransTailorRawOptions } from './study-transtailor-options.js';
import { addStudyReplaceOptions, type StudyReplaceRawOptions } from './study-replace-options.js';

/** Adds `study` and its subcommands to `program`; returns the `study` command. */
export function addStudyCommands(program: Command): Command {
  const studyCmd = program.command('study').description("experiment grids that reproduce a seed's results, each with one report");
  addStudyThesisOptions(
    studyCmd
      .command('thesis')
      .description(
        "seed 003's pruning laboratory on a lenet5 (a checkpoint, or one trained here with the thesis recipe): accuracy-vs-maps-removed curves for criteria x scope x normalisation without retraining, retraining 10/50/100 iterations, layer-retrain and once, then Table 4.1 (prune to a floor, train the pruned architecture from scratch, measured latency); writes runs/study-thesis/<dataset>-<arch>/version_N with results.json, curves.csv, one PNG per thesis figure, table41.csv and report.md",
      ),
  ).action(async (o: StudyRawOptions, cmd: Command) => {
    const { studyThesisCommand } = await import('./study.js');
    process.exitCode = await studyThesisCommand(o, Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
  });
  addStudyDistillOptions(
    studyCmd
      .command('distill')
      .description(
        "seed 002's distillation study: for each seed a teacher, a student from scratch and the student distilled with each loss (seed002 recipe), then the table (test and balanced accuracy, best- and last-epoch, agreement with the teacher, training time, mean ± std over seeds, the difference to scratch against the seed spread); writes runs/study-distill/<dataset>-<teacher>/version_N with results.json, results.csv, report.md, two PNG figures and every member's run",
      ),
  ).action(async (o: StudyDistillRawOptions) => {
    const { studyDistillCommand } = await import('./study-distill.js');
    process.exitCode = await studyDistillCommand(o);
  });
  addStudyTransTailorOptions(
    studyCmd
      .command('transtailor')
      .description(
        "issue 17's TransTailor study (seed 000): for each seed a source model, and for each target task TransTailor (α = 1 and random α) against fine-tune-then-prune with Taylor, L1 and random filter pruning at TransTailor's MACs and the unpruned fine-tuned model; test balanced accuracy, mean ± std over seeds, the difference to TransTailor against the seed spread; writes runs/study-transtailor/<source>-<arch>/version_N with results.json, results.csv, report.md, PNG figures and every member's run",
      ),
  ).action(async (o: StudyTransTailorRawOptions) => {
    const { studyTransTailorCommand } = await import('./study-transtailor.js');
    process.exitCode = await studyTransTailorCommand(o);
  });
  addStudyReplaceOptions(
    studyCmd
      .command('replace')
      .description(
        "issue 18's progressive replacement study (seed 001): for each seed a source model with BatchNorm, then replacement variants from it at the same parameter share (schedules, noise, logit regression, frozen originals, branch init) against the base variant, and two baselines at its size (its architecture from scratch, channel pruning to its MACs); test accuracy and balanced accuracy mean ± std over seeds, params, MACs, final α, the difference to the base variant against the seed spread; writes runs/study-replace/<dataset>-<arch>/version_N with results.json, results.csv, report.md, PNG figures and every member's run",
      ),
  ).action(async (o: StudyReplaceRawOptions) => {
    const { studyReplaceCommand } = await import('./study-replace.js');
    process.exitCode = await studyReplaceCommand(o);
  });
  return studyCmd;
}
