// How a distillation run names its teacher: the teacher is a run of its own, whose config is derived from the
// student's (same data, evaluation and backend; the model with the teacher's fields; trained by sgd-pretrain on
// Omniglot or supervised on text, on all labels). Its config hash, hence its run id in the sweep, follows, so
// every student of the same teacher config shares one teacher run, and a sweep that also lists that config
// (bench.yaml's sgd-pretrain) trains it once.
import { configHash } from '@reptile-bench/core';
import { type ConfigProblem, describeIssue } from './errors.ts';
import { hashableConfig, runIdFor } from './identity.ts';
import type { Path } from './layer.ts';
import {
  type AlgorithmConfig,
  algorithmSchemas,
  type DatasetConfig,
  type ModelConfig,
  modelSchemas,
  modelsForDataset,
  type RunConfig,
  textDatasets,
} from './schema.ts';
import type { PlannedRun, SweepPlan } from './sweep.ts';

type DistillConfig = Extract<AlgorithmConfig, { name: 'sgd-distill' }>;

/** The teacher's model config: the student's with the teacher's fields over it (unvalidated). */
function teacherModelInput(model: ModelConfig, a: DistillConfig): Record<string, unknown> {
  const fields = a.teacher.model;
  // Another model kind starts from that kind's defaults, not from the student's fields.
  return typeof fields.name === 'string' && fields.name !== model.name
    ? { ...fields }
    : { ...model, ...fields };
}

/**
 * What is wrong with a run's distillation settings, each problem at the line that set it: the teacher's model
 * fields (validated as a model of their kind, which must suit the dataset), and the text-only settings on Omniglot.
 */
export function teacherProblems(
  run: { dataset: DatasetConfig; model: ModelConfig; algorithm: AlgorithmConfig },
  originOf: (path: Path) => string,
): ConfigProblem[] {
  const { dataset, model, algorithm: a } = run;
  const problems: ConfigProblem[] = [];
  const text = textDatasets.includes(dataset.name);
  if (a.name !== 'sgd-distill' && a.name !== 'supervised') return problems;
  if (!text) {
    const fields: Array<[string, number | undefined, number]> = [
      ['label_fraction', a.label_fraction, 1],
      ['token_dropout', a.token_dropout, 0],
      ...(a.name === 'sgd-distill'
        ? [['teacher.token_dropout', a.teacher.token_dropout, 0] as [string, number | undefined, number]]
        : []),
    ];
    for (const [field, value, neutral] of fields)
      if (value !== undefined && value !== neutral)
        problems.push({
          where: originOf(['algorithm', ...field.split('.')]),
          field: `algorithm.${field}`,
          message: `${field} applies to text datasets only (${dataset.name} has every training label and no tokens); remove it or use ${neutral}`,
        });
  }
  if (a.name !== 'sgd-distill') return problems;
  const input = teacherModelInput(model, a);
  const at: Path = ['algorithm', 'teacher', 'model'];
  const schema = typeof input.name === 'string' ? modelSchemas[input.name as ModelConfig['name']] : undefined;
  const allowed = modelsForDataset[dataset.name];
  if (schema === undefined || !allowed.includes(input.name as ModelConfig['name'])) {
    problems.push({
      where: originOf([...at, 'name']),
      field: 'algorithm.teacher.model.name',
      message: `invalid value ${JSON.stringify(input.name)}; allowed models for dataset "${dataset.name}": ${allowed.join(', ')}`,
    });
    return problems;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const path = [...issue.path.map(String), ...(key === undefined ? [] : [key])];
        problems.push({
          where: originOf([...at, ...path]),
          field: ['algorithm.teacher.model', ...path].join('.'),
          message: describeIssue(
            key === undefined ? issue : ({ ...issue, keys: [key] } as typeof issue),
            input,
            Object.keys(schema.shape),
          ),
        });
      }
    }
  return problems;
}

function describeModel(model: ModelConfig): string {
  if (model.name === 'conv4') return `conv4 ${model.filters} filters`;
  if (model.name === 'lstm')
    return `${model.bidirectional ? 'bilstm' : 'lstm'} ${model.embedding}/${model.hidden}${model.pool === 'max' ? ' max' : ''}`;
  return model.name;
}

/**
 * The config of a distillation run's teacher run (undefined for other runs): the student's dataset, evaluation,
 * backend and run settings; its model with `teacher.model` over it; sgd-pretrain (Omniglot) or supervised on all
 * labels (text) with `teacher`'s hyperparameters, each defaulting to the student's.
 */
export function teacherConfigOf(config: RunConfig): RunConfig | undefined {
  const a = config.algorithm;
  if (a.name !== 'sgd-distill') return undefined;
  const t = a.teacher;
  const input = teacherModelInput(config.model, a);
  const model = modelSchemas[input.name as ModelConfig['name']].parse(input) as ModelConfig;
  const common = {
    train_iters: t.train_iters ?? a.train_iters,
    train_batch: t.train_batch ?? a.train_batch,
    learning_rate: t.learning_rate ?? a.learning_rate,
    optimizer: t.optimizer ?? a.optimizer,
  };
  const d = config.dataset;
  const text = textDatasets.includes(d.name);
  const algorithm: AlgorithmConfig = text
    ? algorithmSchemas.supervised.parse({
        name: 'supervised',
        ...common,
        label_fraction: 1,
        token_dropout: t.token_dropout ?? a.token_dropout,
      })
    : algorithmSchemas['sgd-pretrain'].parse({ name: 'sgd-pretrain', ...common });
  const setting = d.name === 'omniglot' ? `omniglot-${d.ways}w${d.shots}s` : d.name;
  return {
    ...config,
    name: `${setting}/${algorithm.name} ${describeModel(model)} (teacher)`,
    model,
    algorithm,
  };
}

/** The stored model a teacher run leaves for its students: the joint classifier (sgd-pretrain), or its model. */
export function teacherArtifact(teacher: RunConfig): string {
  return teacher.algorithm.name === 'sgd-pretrain' ? 'classifier.json' : 'model.json';
}

/**
 * Links every distillation run of a plan to its teacher run: the planned run with the teacher's config and the
 * same seed when the sweep plans it anyway, else a new planned run, put before its first student.
 */
export function withTeachers(plan: SweepPlan): SweepPlan {
  const byId = new Map(plan.runs.map((r) => [r.runId, r]));
  const runs: PlannedRun[] = [];
  let added = false;
  for (const run of plan.runs) {
    const config = teacherConfigOf(run.config);
    if (config === undefined) {
      runs.push(run);
      continue;
    }
    const hash = configHash(hashableConfig(config));
    const runId = runIdFor(run.sweep, hash, run.seed);
    let teacher = byId.get(runId);
    if (teacher === undefined) {
      teacher = {
        runId,
        sweep: run.sweep,
        name: config.name,
        configHash: hash,
        seed: run.seed,
        config,
        file: run.file,
      };
      byId.set(runId, teacher);
      runs.push(teacher);
      added = true;
    }
    runs.push({ ...run, teacher });
  }
  return added || runs.some((r) => r.teacher) ? { ...plan, runs } : plan;
}
