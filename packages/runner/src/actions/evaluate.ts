import { initBackend } from '@reptile-bench/backend';
import type { MeanWithCi } from '@reptile-bench/core';
import { evaluate } from '@reptile-bench/evaluation';
import { evaluationOptions, prepareData, testEpisodeRng } from '../assemble.ts';
import { failCommand } from '../commands/options.ts';
import { type EvalMode, fewShotConfig, isTextRun, type RunConfig } from '../config/schema.ts';
import { metricKindOf, modeKeyOf, summaryKey } from '../records.ts';
import { evaluateFixedEpisodes } from './fixed-episodes.ts';
import { loadRunModel } from './run-model.ts';

export interface EvaluateCommandOptions {
  out: string;
  episodes?: number;
  modes?: EvalMode[];
  evalSeed?: number;
  workers: number;
  json?: boolean;
  /** A folder of episode folders (support/ and query/ class folders) to score instead of sampled episodes. */
  episodesFrom?: string;
  /** Instead of the run's eval.optimizer_state: adapt from a fresh inner optimizer or from meta-training's. */
  optimizerState?: 'fresh' | 'trained';
}

interface ModeResult {
  mode: EvalMode;
  now: MeanWithCi;
  /** The run's own final result in this mode, when it recorded one. */
  recorded?: { mean: number; ci95: number; n: number };
}

/**
 * Evaluates a run's exported initialisation again, without training: by default on the run's own test episodes
 * (so the recorded numbers are reproduced exactly, a check that the export is faithful), or on more episodes or
 * other ones (`--episodes`, `--eval-seed`). `target` is a run id in the store or a model file a run saved.
 */
export async function evaluateCommand(target: string, opts: EvaluateCommandOptions): Promise<void> {
  const { loaded, runId, run, config: recorded, modelFile } = await loadRunModel(target, opts.out);
  const config = withOptimizerState(
    recorded,
    opts.optimizerState,
    loaded.optimizerState !== undefined,
    runId,
  );
  if (isTextRun(config))
    throw new Error(
      `run ${runId} trained a text classifier (${config.dataset.name}): it was scored on its test split when it ran, ` +
        'and has no few-shot episodes to evaluate; its model.json holds the classifier and its vocabulary',
    );
  if (opts.episodesFrom !== undefined)
    return evaluateFixedEpisodes(opts.episodesFrom, { loaded, runId, config, modelFile }, opts);
  await initBackend(config.backend);
  const data = await prepareData(config, run.meta.seed);
  const sameData = data.checksum === run.meta.dataChecksum;
  if (!sameData)
    process.stderr.write(
      `warning: the data differ from the run's (checksum ${data.checksum.slice(0, 12)} here, ` +
        `${run.meta.dataChecksum.slice(0, 12)} when it ran); numbers will not match the recorded ones\n`,
    );
  const episodes = opts.episodes ?? fewShotConfig(config).eval.episodes;
  const modes = opts.modes ?? fewShotConfig(config).eval.modes;
  // The run's own test stream reproduces its episodes; another seed draws others.
  const rng = testEpisodeRng(opts.evalSeed ?? run.meta.seed);
  const result = await evaluate(
    loaded.model,
    loaded.params,
    data.test,
    evaluationOptions(config, episodes, modes, opts.workers, loaded.optimizerState),
    rng,
  );

  const metric = metricKindOf(config);
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const now = mode === 'transductive' ? result.transductive : result.nonTransductive;
    if (now === undefined) continue;
    const key = summaryKey(metric, modeKeyOf[mode]);
    const mean = run.summary[key];
    results.push({
      mode,
      now,
      ...(mean === undefined
        ? {}
        : {
            recorded: {
              mean,
              ci95: run.summary[summaryKey(metric, modeKeyOf[mode], 'ci95')] ?? Number.NaN,
              n: run.summary[summaryKey(metric, modeKeyOf[mode], 'n')] ?? Number.NaN,
            },
          }),
    });
  }
  const sameEpisodes = opts.evalSeed === undefined;
  const notFinite = results.filter((r) => !Number.isFinite(r.now.mean)).map((r) => r.mode);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        run_id: runId,
        config_hash: run.meta.configHash,
        seed: run.meta.seed,
        metric,
        episodes,
        eval_seed: opts.evalSeed ?? null,
        optimizer_state: fewShotConfig(config).eval.optimizer_state,
        same_data: sameData,
        results: Object.fromEntries(
          results.map((r) => [
            modeKeyOf[r.mode],
            {
              ...r.now,
              ...(r.recorded ? { recorded: r.recorded } : {}),
              per_episode:
                r.mode === 'transductive'
                  ? result.perEpisode.transductive
                  : result.perEpisode.nonTransductive,
            },
          ]),
        ),
      })}\n`,
    );
    if (notFinite.length > 0) failCommand(nonFiniteMessage(runId, notFinite), 1);
    return;
  }
  const scale = metric === 'accuracy' ? 100 : 1;
  const unit = metric === 'accuracy' ? 'accuracy %' : 'MSE';
  const cell = (mean: number, ci95: number, n: number) =>
    `${(mean * scale).toFixed(2)} ± ${(ci95 * scale).toFixed(2)} (n=${n})`;
  process.stdout.write(
    `run ${runId} (${run.meta.name}, seed ${run.meta.seed}), ${unit}, ${episodes} episodes ` +
      `${sameEpisodes ? "(episode i is the run's test episode i)" : `(eval seed ${opts.evalSeed})`}, ` +
      `inner optimizer ${fewShotConfig(config).eval.optimizer_state}` +
      `${config === recorded ? '' : ` (the run used ${fewShotConfig(recorded).eval.optimizer_state})`}\n`,
  );
  process.stdout.write('| mode | recorded by the run | now |\n| --- | --- | --- |\n');
  for (const r of results)
    process.stdout.write(
      `| ${r.mode} | ${r.recorded ? cell(r.recorded.mean, r.recorded.ci95, r.recorded.n) : '–'} | ${cell(r.now.mean, r.now.ci95, r.now.n)} |\n`,
    );
  if (notFinite.length > 0) failCommand(nonFiniteMessage(runId, notFinite), 1);
}

/** The run's config, evaluated with another starting state of the inner optimizer when one is asked for. */
function withOptimizerState(
  config: RunConfig,
  state: 'fresh' | 'trained' | undefined,
  hasTrainedState: boolean,
  runId: string,
): RunConfig {
  if (state === undefined || isTextRun(config)) return config;
  if (state === 'trained' && !hasTrainedState)
    throw new Error(
      `--optimizer-state trained: run ${runId}'s model.json holds no inner optimizer state to start ` +
        'episodes from; use fresh',
    );
  const few = fewShotConfig(config);
  return { ...few, eval: { ...few.eval, optimizer_state: state } };
}

function nonFiniteMessage(runId: string, modes: string[]): string {
  return (
    `evaluate: run ${runId}'s model gives non-finite results (${modes.join(', ')}): its parameters or the ` +
    'adaptation diverged; the model cannot be scored'
  );
}
