import { planLocalSgd } from '@reptile-bench/averaging/plan';
import type { z } from 'zod';
import { localSgdOptionsOf } from '../local-sgd.ts';
import { type ConfigProblem, describeIssue } from './errors.ts';
import { isPlainObject, type Layer } from './layer.ts';
import {
  algorithmSchemas,
  algorithmsForDataset,
  classificationDatasets,
  datasetSchemas,
  evalSchema,
  modelSchemas,
  modelsForDataset,
  type RunConfig,
  runTopSchema,
  type TestEvalConfig,
  testEvalSchema,
  textDatasets,
  textEvalSchema,
} from './schema.ts';
import { teacherProblems } from './teacher.ts';

type VariantPart = 'dataset' | 'model' | 'algorithm';
const variants: Record<VariantPart, Record<string, z.ZodObject>> = {
  dataset: datasetSchemas,
  model: modelSchemas,
  algorithm: algorithmSchemas,
};

function keysOf(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape);
}

/**
 * Drops fields that belong to another variant of the same part (e.g. `meta_iters` when the algorithm is
 * `sgd-scratch`): shared defaults may set them for every algorithm, and they do not change this run, so they must
 * not change its hash either. Fields that no variant knows stay, and validation reports them as typos.
 */
function dropOtherVariantsFields(layer: Layer): void {
  for (const [part, schemas] of Object.entries(variants) as Array<
    [VariantPart, Record<string, z.ZodObject>]
  >) {
    const value = layer.data[part];
    if (!isPlainObject(value) || typeof value.name !== 'string') continue;
    const own = schemas[value.name];
    if (!own) continue;
    const ownKeys = new Set(keysOf(own));
    const anyVariantKeys = new Set(Object.values(schemas).flatMap(keysOf));
    for (const key of Object.keys(value))
      if (anyVariantKeys.has(key) && !ownKeys.has(key)) layer.delete([part, key]);
  }
}

/** Where each local-sgd option lives in a run config, for the errors of planLocalSgd. */
const localSgdFields: Record<string, string[]> = {
  replicas: ['algorithm', 'replicas'],
  syncEvery: ['algorithm', 'sync_every'],
  batchSize: ['algorithm', 'batch'],
  learningRate: ['algorithm', 'learning_rate'],
  lrBaseBatch: ['algorithm', 'lr_base_batch'],
  momentum: ['algorithm', 'momentum'],
  warmupExamples: ['algorithm', 'warmup_examples'],
  lrDecayExamples: ['algorithm', 'lr_decay_examples'],
  lrDecayFactor: ['algorithm', 'lr_decay_factor'],
  examples: ['algorithm', 'examples'],
  evalEvery: ['eval', 'every_examples'],
};

/** The schedule checks of local SGD (whole numbers of steps and evaluation intervals), as config problems. */
function localSgdProblems(
  layer: Layer,
  context: { where: string; run: string },
  a: Extract<RunConfig['algorithm'], { name: 'local-sgd' }>,
  e: RunConfig['eval'],
): ConfigProblem[] {
  try {
    planLocalSgd(localSgdOptionsOf(a, e as TestEvalConfig));
    return [];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const option = /^local-sgd: (\w+)/.exec(message)?.[1] ?? 'examples';
    const path = localSgdFields[option] ?? ['algorithm', 'examples'];
    return [
      {
        where: layer.originOf(path, context.where),
        field: path.join('.'),
        message: message
          .replace(/^local-sgd: \w+/, path.join('.'))
          .replace(/evalEvery/g, 'eval.every_examples')
          .replace(/batchSize/g, 'batch'),
        run: context.run,
      },
    ];
  }
}

/**
 * Validates a fully merged layer and returns the run config with every default filled in. Collects all problems
 * (not just the first) and names, for each, the file and line that set the value, the field and what is allowed.
 */
export function resolveRunConfig(
  layer: Layer,
  context: { where: string; run: string },
): { config?: Omit<RunConfig, 'name'> & { name?: string }; problems: ConfigProblem[] } {
  dropOtherVariantsFields(layer);
  const data = layer.data;
  const problems: ConfigProblem[] = [];
  const report = (
    issues: readonly z.core.$ZodIssue[],
    prefix: string[],
    input: unknown,
    allowedKeys: readonly string[],
  ) => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path.map(String)];
      // One problem per unknown key, each pointing at the line that wrote it.
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const fieldPath = key === undefined ? path : [...path, key];
        const single = key === undefined ? issue : { ...issue, keys: [key] };
        problems.push({
          where: layer.originOf(fieldPath, context.where),
          field: fieldPath.join('.') || '(run)',
          message: describeIssue(single, input, allowedKeys),
          run: context.run,
        });
      }
    }
  };

  const top = runTopSchema.safeParse(data);
  if (!top.success) report(top.error.issues, [], data, keysOf(runTopSchema));

  const parts: Partial<Record<VariantPart, unknown>> = {};
  for (const [part, schemas] of Object.entries(variants) as Array<
    [VariantPart, Record<string, z.ZodObject>]
  >) {
    const value = data[part];
    if (!isPlainObject(value)) continue; // reported by the top-level schema
    const names = Object.keys(schemas);
    const schema = typeof value.name === 'string' ? schemas[value.name] : undefined;
    if (!schema) {
      problems.push({
        where: layer.originOf([part, 'name'], context.where),
        field: `${part}.name`,
        message:
          value.name === undefined
            ? `required field is missing; allowed values: ${names.join(', ')}`
            : `invalid value ${JSON.stringify(value.name)}; allowed values: ${names.join(', ')}`,
        run: context.run,
      });
      continue;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) parts[part] = parsed.data;
    else report(parsed.error.issues, [part], value, keysOf(schema));
  }

  // Classification datasets are evaluated on their test set, text datasets on their test split with settings of
  // their own (all defaulted), the others on few-shot episodes.
  const datasetName = isPlainObject(data.dataset) ? data.dataset.name : undefined;
  const classification = (classificationDatasets as readonly unknown[]).includes(datasetName);
  const text = textDatasets.includes(datasetName as never);
  const evalShape = classification ? testEvalSchema : text ? textEvalSchema : evalSchema;
  let evalConfig: RunConfig['eval'] | undefined;
  const evalInput = text ? (data.eval ?? {}) : data.eval;
  if (isPlainObject(evalInput)) {
    const parsed = evalShape.safeParse(evalInput);
    if (parsed.success) evalConfig = parsed.data;
    else report(parsed.error.issues, ['eval'], evalInput, keysOf(evalShape));
  }

  if (problems.length > 0 || !top.success || !evalConfig) return { problems };
  const dataset = parts.dataset as RunConfig['dataset'];
  const model = parts.model as RunConfig['model'];
  const algorithm = parts.algorithm as RunConfig['algorithm'];

  const allowedModels = modelsForDataset[dataset.name];
  if (!allowedModels.includes(model.name)) {
    problems.push({
      where: layer.originOf(['model', 'name'], context.where),
      field: 'model.name',
      message: `model "${model.name}" cannot be trained on dataset "${dataset.name}"; allowed models: ${allowedModels.join(', ')}`,
      run: context.run,
    });
  }
  const allowedAlgorithms = algorithmsForDataset(dataset.name);
  // local-sgd and the classification datasets have a message of their own below.
  if (!classification && algorithm.name !== 'local-sgd' && !allowedAlgorithms.includes(algorithm.name)) {
    problems.push({
      where: layer.originOf(['algorithm', 'name'], context.where),
      field: 'algorithm.name',
      message: `algorithm "${algorithm.name}" does not train on dataset "${dataset.name}"; allowed algorithms: ${allowedAlgorithms.join(', ')}`,
      run: context.run,
    });
  }
  if (algorithm.name === 'sgd-distill' || algorithm.name === 'supervised') {
    problems.push(
      ...teacherProblems({ dataset, model, algorithm }, (path) => layer.originOf(path, context.where)).map(
        (p) => ({ ...p, run: context.run }),
      ),
    );
  }
  if (algorithm.name === 'maml' && model.name !== 'mlp') {
    problems.push({
      where: layer.originOf(['algorithm', 'name'], context.where),
      field: 'algorithm.name',
      message: 'second-order MAML is supported for the mlp model only; use fomaml for conv4',
      run: context.run,
    });
  }
  if (algorithm.name === 'maml' && algorithm.optimizer !== 'sgd') {
    problems.push({
      where: layer.originOf(['algorithm', 'optimizer'], context.where),
      field: 'algorithm.optimizer',
      message: `second-order MAML differentiates through plain gradient steps; allowed values: "sgd" (got "${algorithm.optimizer}")`,
      run: context.run,
    });
  }
  if (classification !== (algorithm.name === 'local-sgd')) {
    problems.push({
      where: layer.originOf(['algorithm', 'name'], context.where),
      field: 'algorithm.name',
      message: classification
        ? `dataset "${dataset.name}" is single-task classification; allowed algorithms: "local-sgd"`
        : `"local-sgd" trains one classifier on a classification dataset; allowed datasets: ${classificationDatasets.join(', ')}`,
      run: context.run,
    });
  }
  if (algorithm.name === 'local-sgd' && problems.length === 0)
    problems.push(...localSgdProblems(layer, context, algorithm, evalConfig));
  if (dataset.name === 'sine' && dataset.train_shots === undefined) dataset.train_shots = dataset.shots;
  if (algorithm.name === 'fomaml' || algorithm.name === 'maml') {
    // (FO)MAML's meta-gradient comes from held-out batches at the end of the inner loop (one for MAML,
    // `tail_batches` for FOMAML); they need examples of their own.
    const examples =
      dataset.name === 'omniglot'
        ? dataset.ways * dataset.train_shots
        : 'train_shots' in dataset
          ? (dataset.train_shots ?? 0)
          : 0;
    const tail = algorithm.name === 'fomaml' ? algorithm.tail_batches : 1;
    const heldOut = tail * algorithm.inner_batch;
    if (heldOut >= examples) {
      const what = algorithm.name === 'fomaml' ? 'tail_batches × inner_batch' : 'one inner batch';
      problems.push({
        where: layer.originOf(['algorithm', 'name'], context.where),
        field: algorithm.name === 'fomaml' ? 'algorithm.tail_batches' : 'algorithm.inner_batch',
        message:
          `${algorithm.name} holds out ${what} = ${heldOut} of a training task's ${examples} examples, ` +
          'leaving none for the inner steps; raise dataset.train_shots or lower algorithm.inner_batch' +
          (algorithm.name === 'fomaml' ? '/tail_batches' : ''),
        run: context.run,
      });
    }
  }
  if ('optimizer_state' in evalConfig && evalConfig.optimizer_state === 'trained') {
    const carried =
      (algorithm.name === 'reptile' || algorithm.name === 'fomaml') && !algorithm.reset_optimizer_state;
    if (!carried) {
      problems.push({
        where: layer.originOf(['eval', 'optimizer_state'], context.where),
        field: 'eval.optimizer_state',
        message:
          `"trained" starts each episode from the inner optimizer state meta-training carried, which ${algorithm.name}` +
          `${'reset_optimizer_state' in algorithm && algorithm.reset_optimizer_state ? ' with reset_optimizer_state' : ''} does not have; use "fresh"`,
        run: context.run,
      });
    } else if (algorithm.optimizer !== evalConfig.optimizer) {
      problems.push({
        where: layer.originOf(['eval', 'optimizer'], context.where),
        field: 'eval.optimizer',
        message: `optimizer_state "trained" continues the inner ${algorithm.optimizer} state, so evaluation must use "${algorithm.optimizer}" too (got "${evalConfig.optimizer}")`,
        run: context.run,
      });
    }
  }
  if (problems.length > 0) return { problems };

  const config = {
    ...(top.data.name === undefined ? {} : { name: top.data.name }),
    dataset,
    model,
    algorithm,
    eval: evalConfig,
    backend: top.data.backend,
    workers: top.data.workers,
    ...(top.data.training_seed === undefined ? {} : { training_seed: top.data.training_seed }),
    checkpoint: top.data.checkpoint,
    max_loss: top.data.max_loss,
  };
  return { config, problems };
}
