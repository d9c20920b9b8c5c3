import { randomUUID } from 'node:crypto';
import { releaseOptimizerStates, runTaskJob, type TaskJob, type TaskResult } from './task.ts';

/** Runs the task jobs of a meta-batch, in this thread or on replica threads; results come back in job order. */
export interface TaskRunner {
  /** Prefix for the `stateKey`s of this meta-training run (unique per run, so runs never share a state). */
  readonly statePrefix: string;
  run(jobs: TaskJob[]): Promise<TaskResult[]>;
  /** Frees the run's optimizer states and any threads. */
  close(): Promise<void>;
}

/** Runs every job in this thread, one after another, on the backend already selected. */
export function inThreadRunner(): TaskRunner {
  const statePrefix = `run:${randomUUID()}/`;
  return {
    statePrefix,
    async run(jobs) {
      return jobs.map((job) => runTaskJob(job));
    },
    async close() {
      releaseOptimizerStates(statePrefix);
    },
  };
}
