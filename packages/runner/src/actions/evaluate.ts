import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '@reptile-bench/backend';
import type { MeanWithCi } from '@reptile-bench/core';
import { evaluate } from '@reptile-bench/evaluation';
import { loadModel } from '@reptile-bench/models';
import { openRunStore } from '@reptile-bench/tracking';
import { evaluationOptions, prepareData, testEpisodeRng } from '../assemble.ts';
import { type EvalMode, fewShotConfig, type RunConfig } from '../config/schema.ts';
import { metricKindOf, modeKeyOf, summaryKey } from '../records.ts';

export interface EvaluateCommandOptions {
  out: string;
  episodes?: number;
  modes?: EvalMode[];
  evalSeed?: number;
  workers: number;
  json?: boolean;
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
  const store = openRunStore(opts.out);
  const isFile = existsSync(target);
  const modelFile = isFile ? resolve(target) : store.artifactPath(target, 'model.json');
  const loaded = isFile || existsSync(modelFile) ? await loadModel(modelFile) : undefined;
  const runId = isFile ? loaded?.metadata.runId : target;
  if (typeof runId !== 'string')
    throw new Error(
      `${target}: the model file names no run (metadata.runId); evaluate models saved by a run`,
    );
  const run = await store.getRun(runId);
  if (run === undefined)
    throw new Error(
      `run ${runId} is not in the run store ${join(resolve(opts.out), 'runs')}; ` +
        'pass --out with the folder the run was written to, or a run id listed there',
    );
  const config = run.meta.config as RunConfig;
  if (loaded === undefined)
    throw new Error(
      `run ${runId} (${config.algorithm.name}) has no exported model (${modelFile}): ` +
        (run.status === 'FINISHED'
          ? 'this algorithm learns no initialisation (SGD from scratch starts every episode afresh)'
          : `the run is ${run.status}; finish it with reptile-bench sweep or run`),
    );
  if (loaded.metadata.configHash !== undefined && loaded.metadata.configHash !== run.meta.configHash)
    throw new Error(
      `${modelFile}: saved by a run with config hash ${String(loaded.metadata.configHash)}, but run ${runId} ` +
        `has ${run.meta.configHash}; the file does not belong to this run`,
    );

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
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        run_id: runId,
        config_hash: run.meta.configHash,
        seed: run.meta.seed,
        metric,
        episodes,
        eval_seed: opts.evalSeed ?? null,
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
    return;
  }
  const scale = metric === 'accuracy' ? 100 : 1;
  const unit = metric === 'accuracy' ? 'accuracy %' : 'MSE';
  const cell = (mean: number, ci95: number, n: number) =>
    `${(mean * scale).toFixed(2)} ± ${(ci95 * scale).toFixed(2)} (n=${n})`;
  process.stdout.write(
    `run ${runId} (${run.meta.name}, seed ${run.meta.seed}), ${unit}, ${episodes} episodes ` +
      `${sameEpisodes ? "(episode i is the run's test episode i)" : `(eval seed ${opts.evalSeed})`}\n`,
  );
  process.stdout.write('| mode | recorded by the run | now |\n| --- | --- | --- |\n');
  for (const r of results)
    process.stdout.write(
      `| ${r.mode} | ${r.recorded ? cell(r.recorded.mean, r.recorded.ci95, r.recorded.n) : '–'} | ${cell(r.now.mean, r.now.ci95, r.now.n)} |\n`,
    );
}
