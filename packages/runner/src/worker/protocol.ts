import type { PlannedRun } from '../config/sweep.ts';
import type { RunProgress } from '../execute.ts';

/** Parent → worker process. */
export type ToWorker =
  | {
      type: 'run';
      run: PlannedRun;
      out: string;
      commit: string;
      threads: number;
      /** Continue the run from its checkpoint when it left one (false: start it over). */
      resume: boolean;
    }
  /** Stop: checkpoint the run, record it KILLED and exit. */
  | { type: 'abort'; reason: string };

/** Worker process → parent. */
export type FromWorker =
  | { type: 'progress'; runId: string; progress: RunProgress }
  | { type: 'started'; runId: string }
  | { type: 'note'; runId: string; text: string }
  /** A checkpoint of the run was just written in its folder. */
  | { type: 'checkpoint'; runId: string }
  | {
      type: 'done';
      runId: string;
      status: 'FINISHED' | 'FAILED' | 'KILLED';
      summary: Record<string, number>;
      error?: string;
    };
