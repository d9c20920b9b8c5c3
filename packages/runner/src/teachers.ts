// Distillation runs and their teacher runs at run time: a sweep trains the teachers its students need before the
// students (each teacher once, reusing it when it has finished), and a student loads its teacher's model from
// the run store.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, type Model } from '@reptile-bench/models';
import { openRunStore, type RunStore } from '@reptile-bench/tracking';
import type { PlannedRun, SweepPlan } from './config/sweep.ts';
import { teacherArtifact } from './config/teacher.ts';
import { estimateCost } from './cost.ts';
import type { ProgressReporter } from './progress.ts';
import { isFinishedResult, type RunOutcome, type SweepOptions } from './scheduler.ts';
import type { Scheduler } from './sweep-and-report.ts';

/** A student's teacher, as loaded from the teacher run's stored model. */
export interface LoadedTeacher {
  runId: string;
  configHash: string;
  model: Model;
  params: Float32Array[];
  /** What the teacher run saved with its model (e.g. a text classifier's vocabulary). */
  metadata: Record<string, unknown>;
}

/**
 * The teacher of a distillation run from the store: the teacher run must have finished with the config the
 * student names, and its model file must be the one that run saved. Errors say which run and what to do.
 */
export async function loadTeacher(run: PlannedRun, store: RunStore): Promise<LoadedTeacher> {
  const teacher = run.teacher;
  if (teacher === undefined)
    throw new Error(`run ${run.runId} (${run.config.algorithm.name}) has no teacher run`);
  const record = await store.getRun(teacher.runId);
  if (!isFinishedResult(record, teacher))
    throw new Error(
      `run ${run.runId} distils from teacher run ${teacher.runId}, which is ${record === undefined ? 'not in the run store' : `${record.status} with config hash ${record.meta.configHash}`}; ` +
        'run the sweep (it trains the teacher before its students) or `reptile-bench run` the teacher first',
    );
  const file = store.artifactPath(teacher.runId, teacherArtifact(teacher.config));
  if (!existsSync(file))
    throw new Error(
      `teacher run ${teacher.runId} finished without ${file}; run the sweep again: it trains such a teacher again (same config, same numbers) before its students`,
    );
  const loaded = await loadModel(file);
  if (loaded.metadata.configHash !== teacher.configHash)
    throw new Error(
      `${file}: saved by config hash ${String(loaded.metadata.configHash)}, but teacher run ${teacher.runId} has ${teacher.configHash}; the file does not belong to the run`,
    );
  return {
    runId: teacher.runId,
    configHash: teacher.configHash,
    model: loaded.model,
    params: loaded.params,
    metadata: loaded.metadata,
  };
}

/** A reporter that starts once (with the totals of every stage) and stops when asked at the end. */
function stagedReporter(progress: ProgressReporter, totals: { runs: number; reused: number; cost: number }) {
  let started = false;
  const staged: ProgressReporter = {
    ...progress,
    runStarted: (run) => progress.runStarted(run),
    runProgress: (run, p, cost) => progress.runProgress(run, p, cost),
    runEnded: (run, end) => progress.runEnded(run, end),
    note: (text) => progress.note(text),
    start() {
      if (started) return;
      started = true;
      progress.start(totals);
    },
    stop() {},
  };
  return { staged, stop: () => progress.stop() };
}

/**
 * Runs the sweeps with `schedule` (local workers or the job queue), teachers first: every distillation run's teacher run (also when the plan
 * leaves it out, e.g. `--only` picked a student) is run or reused before its students start, and each teacher
 * config is trained once. A teacher that finished before its model file was kept (runs of older code) is run
 * again: same config, same numbers, now with the file. Students whose teacher did not finish fail with that
 * reason. Without distillation runs this is `schedule`.
 */
export async function runWithTeachers(
  plans: SweepPlan[],
  options: SweepOptions,
  schedule: Scheduler,
): Promise<RunOutcome[] & { interrupted?: NodeJS.Signals }> {
  const planned = plans.flatMap((p) => p.runs);
  if (!planned.some((r) => r.teacher)) return schedule(plans, options);
  const store = openRunStore(resolve(options.out));
  const inPlan = new Set(planned.map((r) => r.runId));
  const teachers = new Map<string, PlannedRun>();
  for (const run of planned) if (run.teacher) teachers.set(run.teacher.runId, run.teacher);

  const refresh: PlannedRun[] = [];
  if (!options.force)
    for (const t of teachers.values()) {
      const record = await store.getRun(t.runId);
      if (isFinishedResult(record, t) && !existsSync(store.artifactPath(t.runId, teacherArtifact(t.config))))
        refresh.push(t);
    }
  const refreshed = new Set(refresh.map((r) => r.runId));
  const first = [
    ...[...teachers.values()].filter((t) => !inPlan.has(t.runId)),
    ...planned.filter((r) => !r.teacher),
  ].filter((r) => !refreshed.has(r.runId));
  const students = planned.filter((r) => r.teacher);

  let todo = 0;
  let reused = 0;
  let cost = 0;
  for (const run of [...refresh, ...first, ...students]) {
    const record = await store.getRun(run.runId);
    if (!options.force && !refreshed.has(run.runId) && isFinishedResult(record, run)) reused++;
    else {
      todo++;
      cost += estimateCost(run.config).total;
    }
  }
  const { staged, stop } = stagedReporter(options.progress, { runs: todo, reused, cost });
  const outcomes = new Map<string, RunOutcome>();
  let interrupted: NodeJS.Signals | undefined;
  const stage = async (runs: PlannedRun[], force = options.force) => {
    if (runs.length === 0 || interrupted) return;
    const result = await schedule([{ ...(plans[0] as SweepPlan), runs }], {
      ...options,
      force,
      progress: staged,
    });
    for (const outcome of result) outcomes.set(outcome.run.runId, outcome);
    interrupted = result.interrupted;
  };
  try {
    if (refresh.length > 0)
      staged.note(
        `${refresh.length} teacher run(s) finished before their model file was kept; training them again (same numbers)`,
      );
    await stage(refresh, true);
    await stage(first);
    const ready: PlannedRun[] = [];
    for (const run of students) {
      const teacher = run.teacher as PlannedRun;
      const outcome = outcomes.get(teacher.runId);
      if (outcome === undefined || outcome.status === 'FINISHED') ready.push(run);
      else
        outcomes.set(run.runId, {
          run,
          status: interrupted ? 'KILLED' : 'FAILED',
          reused: false,
          summary: {},
          error: interrupted
            ? 'not started: the sweep was interrupted'
            : `not started: its teacher run ${teacher.runId} did not finish (${outcome.status}: ${(outcome.error ?? '').split('\n')[0]})`,
          seconds: 0,
        });
    }
    await stage(ready);
  } finally {
    stop();
  }
  const results = planned.map(
    (r) =>
      outcomes.get(r.runId) ?? {
        run: r,
        status: 'KILLED' as const,
        reused: false,
        summary: {},
        error: 'not started: the sweep was interrupted',
        seconds: 0,
      },
  );
  return Object.assign(results, interrupted === undefined ? {} : { interrupted });
}
