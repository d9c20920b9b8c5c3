import cliProgress from 'cli-progress';
import type { PlannedRun } from './config/sweep.ts';
import type { RunProgress } from './execute.ts';
import { formatDuration } from './report/format.ts';

export interface RunEnd {
  status: 'FINISHED' | 'FAILED' | 'KILLED' | 'REUSED';
  seconds: number;
  /** The run's estimated cost, now all done (see estimateCost). */
  cost: number;
  headline?: string;
  error?: string;
}

/** What a sweep tells the person watching it. Bars on a terminal, plain lines in logs, nothing when asked. */
export interface ProgressReporter {
  start(o: { runs: number; reused: number; cost: number }): void;
  runStarted(run: PlannedRun): void;
  runProgress(run: PlannedRun, progress: RunProgress, costDone: number): void;
  runEnded(run: PlannedRun, end: RunEnd): void;
  note(text: string): void;
  stop(): void;
}

export type ProgressMode = 'auto' | 'bars' | 'lines' | 'none';

export function createProgress(
  mode: ProgressMode,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bars' : 'lines') : mode;
  if (resolved === 'bars') return barsReporter(stream);
  if (resolved === 'lines') return linesReporter(stream);
  return { start() {}, runStarted() {}, runProgress() {}, runEnded() {}, note() {}, stop() {} };
}

function describeRun(run: PlannedRun): string {
  return `${run.name} seed ${run.seed}`;
}

function phaseText(p: RunProgress): string {
  if (p.phase === 'setup') return 'setting up';
  if (p.phase === 'train') return `training ${p.done}/${p.total}`;
  return `evaluating ${p.done}/${p.total} episodes`;
}

function endLine(run: PlannedRun, end: RunEnd): string {
  const what =
    end.status === 'REUSED' ? 'reused (finished earlier)' : `${end.status} in ${formatDuration(end.seconds)}`;
  const detail = end.error ? `: ${end.error.split('\n')[0]}` : end.headline ? `: ${end.headline}` : '';
  return `${describeRun(run)} (${run.runId}) ${what}${detail}`;
}

/** Overall progress in cost units across finished and running runs, with the ETA from the rate so far. */
class Tally {
  total = 1;
  done = 0;
  runs = 0;
  ended = 0;
  started = Date.now();
  private readonly active = new Map<string, number>();
  set(runId: string, cost: number): void {
    this.active.set(runId, cost);
  }
  end(runId: string, cost: number): void {
    this.active.delete(runId);
    this.done += cost;
    this.ended++;
  }
  value(): number {
    let v = this.done;
    for (const c of this.active.values()) v += c;
    return Math.min(v, this.total);
  }
  eta(): number | undefined {
    const v = this.value();
    const elapsed = (Date.now() - this.started) / 1000;
    if (v <= 0 || elapsed < 1) return undefined;
    return ((this.total - v) * elapsed) / v;
  }
}

function linesReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const tally = new Tally();
  let lastReport = Date.now();
  const write = (text: string) => stream.write(`${text}\n`);
  const counter = () => `[${tally.ended}/${tally.runs}]`;
  return {
    start({ runs, reused, cost }) {
      tally.runs = runs;
      tally.total = Math.max(cost, 1);
      tally.started = Date.now();
      write(`sweep: ${runs} run(s) to do${reused ? `, ${reused} reused from earlier sweeps` : ''}`);
    },
    runStarted(run) {
      write(`${counter()} started ${describeRun(run)} (${run.runId})`);
    },
    runProgress(run, progress, costDone) {
      tally.set(run.runId, costDone);
      // In logs, one line every 30 s is enough to show life and the ETA.
      if (Date.now() - lastReport < 30_000) return;
      lastReport = Date.now();
      const pct = ((100 * tally.value()) / tally.total).toFixed(0);
      write(
        `${counter()} ${pct}% of the sweep, ETA ${formatDuration(tally.eta())}; ${describeRun(run)}: ${phaseText(progress)}`,
      );
    },
    runEnded(run, end) {
      tally.end(run.runId, end.cost);
      write(`${counter()} ${endLine(run, end)}`);
    },
    note: write,
    stop() {},
  };
}

function barsReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const tally = new Tally();
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      // Bars asked for explicitly on a non-terminal still draw (one line per update).
      noTTYOutput: !stream.isTTY,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      barsize: 30,
      format: (options, params, payload: { label?: string; detail?: string }) => {
        const size = options.barsize ?? 30;
        const filled = Math.round(params.progress * size);
        const bar = `${'█'.repeat(filled)}${'░'.repeat(size - filled)}`;
        return `${bar} ${String(Math.round(params.progress * 100)).padStart(3)}% ${payload.label ?? ''} ${payload.detail ?? ''}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  let overall: cliProgress.SingleBar | undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  const ended: string[] = [];
  const overallDetail = () => `| ${tally.ended}/${tally.runs} runs | ETA ${formatDuration(tally.eta())}`;
  const refreshOverall = () => overall?.update(tally.value(), { label: 'sweep', detail: overallDetail() });
  return {
    start({ runs, reused, cost }) {
      tally.runs = runs;
      tally.total = Math.max(cost, 1);
      tally.started = Date.now();
      if (reused) multibar.log(`${reused} run(s) reused from earlier sweeps\n`);
      overall = multibar.create(tally.total, 0, { label: 'sweep', detail: overallDetail() });
    },
    runStarted(run) {
      bars.set(run.runId, multibar.create(1, 0, { label: describeRun(run), detail: 'starting' }));
    },
    runProgress(run, progress, costDone) {
      tally.set(run.runId, costDone);
      const bar = bars.get(run.runId);
      const fraction = progress.total > 0 ? progress.done / progress.total : 0;
      bar?.update(fraction, { label: describeRun(run), detail: `| ${phaseText(progress)}` });
      refreshOverall();
    },
    runEnded(run, end) {
      tally.end(run.runId, end.cost);
      const bar = bars.get(run.runId);
      if (bar) {
        multibar.remove(bar);
        bars.delete(run.runId);
      }
      const line = endLine(run, end);
      ended.push(line);
      multibar.log(`${line}\n`);
      refreshOverall();
    },
    note(text) {
      multibar.log(`${text}\n`);
    },
    stop() {
      refreshOverall();
      multibar.stop();
      // Lines logged just before the bars stop may never be drawn: every run's result is repeated here.
      if (ended.length > 0) stream.write(`results:\n${ended.map((l) => `  ${l}\n`).join('')}`);
    },
  };
}
