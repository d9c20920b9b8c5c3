// What every executor (few-shot, single-task classification, text) does around its own training: record the run,
// its setup failure too; continue it from its checkpoint; end it FINISHED, KILLED (to be resumed) or FAILED.
import type { BackendInfo } from '@reptile-bench/backend';
import { DivergenceError } from '@reptile-bench/meta';
import { flattenParams, type RunMeta, type RunWriter, type Tracker } from '@reptile-bench/tracking';
import {
  type ElapsedSeconds,
  loadCheckpoint,
  type RunCheckpoint,
  type RunProgressState,
  refusalOf,
  removeCheckpoint,
  saveCheckpoint,
} from './checkpoint.ts';
import type { PlannedRun } from './config/sweep.ts';
import type { ExecuteOptions, ExecuteResult } from './execute.ts';

export interface RecordedRun<Setup extends { backend: BackendInfo; checksum: string }> {
  /** Replica threads of the run, recorded in its tags. */
  threads: number;
  /** Backend, data and model. A failure here is recorded as the run's, so the reports list it with its reason. */
  setup(): Promise<Setup>;
  /** Training iterations in all. */
  iterations: number;
  /**
   * Episodes of the final evaluation, when its checkpoints continue too (few-shot runs); without it a checkpoint
   * written during the evaluation is not continued and the run starts over.
   */
  evalEpisodes?: number;
  /** Trains and evaluates (from the checkpoint when there is one) and returns the run's summary. */
  run(
    setup: Setup,
    writer: RunWriter,
    checkpoint: RunCheckpoint | undefined,
  ): Promise<Record<string, number>>;
}

/**
 * Runs `spec` as the recorded run `run`: its record carries the config hash, seed, commit, backend and data
 * checksum; an interrupted run continues from its checkpoint (noted, and warned when another commit wrote it);
 * an abort between steps records it KILLED, any other error FAILED with the error. Never throws.
 */
export async function executeRecorded<Setup extends { backend: BackendInfo; checksum: string }>(
  run: PlannedRun,
  options: ExecuteOptions,
  spec: RecordedRun<Setup>,
): Promise<ExecuteResult> {
  options.onProgress?.({ phase: 'setup', done: 0, total: 1 });
  const meta = (backend: RunMeta['backend'], dataChecksum: string): RunMeta => ({
    runId: run.runId,
    sweep: run.sweep,
    name: run.name,
    configHash: run.configHash,
    seed: run.seed,
    commit: options.commit,
    backend,
    dataChecksum,
    config: run.config,
    params: { ...flattenParams(run.config), seed: run.seed },
    tags: {
      sweep_file: run.file,
      replica_threads: String(spec.threads),
      ...(run.teacher ? { teacher_run: run.teacher.runId } : {}),
    },
  });
  let setup: Setup;
  try {
    setup = await spec.setup();
  } catch (error) {
    const writer = await options.tracker.startRun(
      meta({ name: run.config.backend, version: 'unavailable', threads: spec.threads }, 'unavailable'),
    );
    return fail(writer, error);
  }
  const { backend } = setup;

  let checkpoint: RunCheckpoint | undefined;
  try {
    checkpoint = options.resume === false ? undefined : await resumableCheckpoint(run, options.tracker);
  } catch (error) {
    // A checkpoint that cannot be continued is left as it is, with the run, for the user to decide.
    return { status: 'FAILED', summary: {}, error: error instanceof Error ? error.message : String(error) };
  }
  const point = checkpoint === undefined ? undefined : resumePoint(checkpoint, spec);
  let writer: RunWriter;
  if (checkpoint === undefined || point === undefined) {
    checkpoint = undefined;
    writer = await options.tracker.startRun(
      meta({ name: backend.name, version: backend.version, threads: backend.threads }, setup.checksum),
    );
  } else {
    options.onNote?.(
      `${run.runId}: resuming from its checkpoint at ${point.at} (written ${new Date(checkpoint.time).toISOString()})`,
    );
    if (checkpoint.commit !== options.commit)
      options.onNote?.(
        `warning: ${run.runId}: its checkpoint was written by commit ${checkpoint.commit}, this is ${options.commit}; ` +
          'the run records the resume with both commits',
      );
    writer = await options.tracker.resumeRun(run.runId, {
      iteration: point.iteration,
      phase: point.phase,
      commit: options.commit,
      from: checkpoint.logOffset,
    });
  }
  options.onStarted?.(writer);
  try {
    const summary = await spec.run(setup, writer, checkpoint);
    await writer.finish('FINISHED', summary);
    await removeCheckpoint(options.tracker.store.checkpointPath(run.runId));
    return { status: 'FINISHED', summary };
  } catch (error) {
    if (options.signal?.aborted && !(error instanceof DivergenceError)) {
      const reason = String(
        options.signal.reason instanceof Error ? options.signal.reason.message : options.signal.reason,
      );
      await writer.finish('KILLED', {}, reason).catch(() => {});
      return { status: 'KILLED', summary: {}, error: reason };
    }
    return fail(writer, error);
  }
}

/** Where a checkpoint continues (the phase, the iteration the record notes, the same in words), if it does. */
function resumePoint(
  checkpoint: RunCheckpoint,
  spec: { iterations: number; evalEpisodes?: number },
): { phase: 'train' | 'eval'; iteration: number; at: string } | undefined {
  if (checkpoint.phase === 'train') {
    const { iteration } = checkpoint.training;
    return { phase: 'train', iteration, at: `iteration ${iteration}/${spec.iterations}` };
  }
  if (spec.evalEpisodes === undefined) return undefined;
  return {
    phase: 'eval',
    iteration: spec.iterations,
    at: `evaluation episode ${checkpoint.episodes.length}/${spec.evalEpisodes}`,
  };
}

/** The run's checkpoint when it was interrupted and left one; throws (saying why) when it may not be continued. */
export async function resumableCheckpoint(
  run: PlannedRun,
  tracker: Tracker,
): Promise<RunCheckpoint | undefined> {
  const record = await tracker.store.getRun(run.runId);
  // Only an interrupted run continues: a failed one starts over (its failure may be what changed since).
  if (record === undefined || record.status === 'FINISHED' || record.status === 'FAILED') return undefined;
  if (record.status === 'RUNNING')
    throw new Error(
      `run ${run.runId} is being trained by another live process (${record.meta.commit}); not starting it twice`,
    );
  const file = tracker.store.checkpointPath(run.runId);
  const checkpoint = await loadCheckpoint(file);
  if (checkpoint === undefined) return undefined;
  const refusal = refusalOf(
    checkpoint,
    { runId: run.runId, configHash: run.configHash, seed: run.seed, backend: run.config.backend },
    file,
  );
  if (refusal !== undefined) throw new Error(refusal);
  return checkpoint;
}

export async function fail(writer: RunWriter, error: unknown): Promise<ExecuteResult> {
  const stack =
    error instanceof DivergenceError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  await writer.finish('FAILED', {}, stack).catch(() => {});
  return { status: 'FAILED', summary: {}, error: error instanceof Error ? error.message : String(error) };
}

/** Seconds of work by kind, continued from what earlier attempts of the run did. */
export function workClock(before: ElapsedSeconds) {
  const cpuStart = process.cpuUsage();
  let phase: 'train' | 'eval' = 'train';
  let phaseStart = performance.now();
  let train = before.train;
  let validation = before.validation;
  let validationAtPhaseStart = before.validation;
  const sincePhaseStart = () => (performance.now() - phaseStart) / 1000;
  const trainSeconds = () =>
    phase === 'train' ? train + sincePhaseStart() - (validation - validationAtPhaseStart) : train;
  const evalSeconds = () => (phase === 'eval' ? before.eval + sincePhaseStart() : before.eval);
  // CPU seconds of this process and its replica threads: unlike wall time, barely moved by other load.
  const cpuSeconds = () => {
    const used = process.cpuUsage(cpuStart);
    return before.cpu + (used.user + used.system) / 1e6;
  };
  return {
    train: trainSeconds,
    addValidation(seconds: number) {
      validation += seconds;
    },
    startEvaluation() {
      if (phase === 'eval') return;
      train = trainSeconds();
      validationAtPhaseStart = validation;
      phase = 'eval';
      phaseStart = performance.now();
    },
    snapshot: (): ElapsedSeconds => ({
      train: trainSeconds(),
      validation,
      eval: evalSeconds(),
      cpu: cpuSeconds(),
    }),
  };
}

/**
 * Writes a run's checkpoints (and tells `options.onCheckpoint`, e.g. to copy them off this machine) and says when
 * the next one is due: every `every_iterations` iterations when that is set, and `every_seconds` after the last.
 */
export function checkpointWriter(
  run: PlannedRun,
  options: ExecuteOptions,
  writer: RunWriter,
  clock: ReturnType<typeof workClock>,
) {
  const file = options.tracker.store.checkpointPath(run.runId);
  const { every_seconds: everySeconds, every_iterations: everyIterations } = run.config.checkpoint;
  let lastSave = performance.now();
  const secondsDue = () => performance.now() - lastSave >= everySeconds * 1000;
  return {
    async save(state: RunProgressState) {
      await saveCheckpoint(file, {
        runId: run.runId,
        configHash: run.configHash,
        seed: run.seed,
        backend: run.config.backend,
        commit: options.commit,
        time: Date.now(),
        logOffset: writer.logPosition(),
        elapsed: clock.snapshot(),
        ...state,
      } as RunCheckpoint);
      lastSave = performance.now();
      options.onCheckpoint?.();
    },
    /** During training, after `iteration` iterations. */
    due: (iteration: number) => (everyIterations > 0 && iteration % everyIterations === 0) || secondsDue(),
    /** During the evaluation, which has no iterations. */
    secondsDue,
  };
}
