import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { planSweep } from '../src/config/sweep.ts';
import { bin, cli, lastJson, tinySweep, waitFor } from './cli-helpers.ts';

describe('reptile-bench sweep, end to end on sine waves', () => {
  it('runs a tiny sweep, writes reports, reuses finished runs, and checks against a baseline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-e2e-'));
    const file = tinySweep(dir, 'tiny', ['reptile', 'sgd-pretrain']);
    const out = join(dir, 'results');

    const first = await cli(['sweep', file, '--out', out, '--json', '--progress', 'lines']);
    expect(first.code, first.stderr).toBe(0);
    const summary = lastJson(first.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.counts).toEqual({ runs: 2, finished: 2, reused: 0, failed: 0, killed: 0 });
    for (const run of summary.runs) {
      expect(run.status).toBe('FINISHED');
      expect(run.id).toBe(`tiny-${run.config_hash}-s0`);
      expect(run.metrics.mse_nontransductive_n).toBe(6);
      expect(run.metrics.mse_transductive).toBeGreaterThan(0);
    }
    expect(first.stderr).toMatch(/started sine\/reptile seed 0/);
    expect(first.stderr).toMatch(/sine\/sgd-pretrain seed 0 \(tiny-[0-9a-f]{12}-s0\) FINISHED in/);

    const rows = parse(readFileSync(join(out, 'tiny', 'results.csv'), 'utf8'), { columns: true }) as Array<
      Record<string, string>
    >;
    expect(rows.map((r) => `${r.algorithm}:${r.status}`).sort()).toEqual([
      'reptile:FINISHED',
      'sgd-pretrain:FINISHED',
    ]);
    expect(rows[0]?.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    expect(rows[0]?.data_checksum).toMatch(/^[0-9a-f]{64}$/);
    const html = readFileSync(join(out, 'tiny', 'report.html'), 'utf8');
    expect(html).toContain('data-chart="learning-curve"');
    // Each run recorded its learning curve (every 3 of 6 iterations) and its trained initialisation.
    const store = openRunStore(out);
    const reptileRun = (await store.getRun(summary.runs[0]?.id as string)) as RunRecord;
    expect(reptileRun.metrics.val_mse?.map((p) => p.step)).toEqual([0, 3, 6]);
    expect(reptileRun.artifacts).toContain('model.json');
    expect(existsSync(store.artifactPath(reptileRun.meta.runId, 'model.json'))).toBe(true);
    const episodes = JSON.parse(
      readFileSync(store.artifactPath(reptileRun.meta.runId, 'test-episodes.json'), 'utf8'),
    );
    expect(episodes.metric).toBe('mse');
    expect(episodes.transductive).toHaveLength(6);
    const meanOfEpisodes = episodes.transductive.reduce((a: number, b: number) => a + b, 0) / 6;
    expect(meanOfEpisodes).toBeCloseTo(reptileRun.summary.mse_transductive as number, 10);

    // Rerun: nothing is trained again, and the numbers are the stored ones.
    const second = await cli(['sweep', file, '--out', out, '--json', '--progress', 'none']);
    expect(second.code, second.stderr).toBe(0);
    const again = lastJson(second.stdout);
    expect(again.counts.reused).toBe(2);
    expect(again.runs.map((r) => r.metrics)).toEqual(summary.runs.map((r) => r.metrics));
    expect((await store.getRun(summary.runs[0]?.id as string))?.attempt).toBe(reptileRun.attempt);

    // One run picked from the sweep file (reused here) leaves the sweep's reports covering the whole sweep.
    const one = await cli([
      'run',
      file,
      '--only',
      'sgd-pretrain',
      '--out',
      out,
      '--json',
      '--progress',
      'none',
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(lastJson(one.stdout).runs.map((r) => [r.status, r.reused])).toEqual([['FINISHED', true]]);
    expect(
      readFileSync(join(out, 'tiny', 'results.csv'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(3);

    // The check: a baseline from these runs passes; a baseline the runs fall short of fails.
    const baseline = join(dir, 'baseline.json');
    const update = await cli([
      'check',
      '--suite',
      file,
      '--out',
      out,
      '--baseline',
      baseline,
      '--update-baseline',
      '--null-replicates',
      '2',
      '--progress',
      'none',
    ]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('baseline written');
    const pass = await cli([
      'check',
      '--suite',
      file,
      '--out',
      out,
      '--baseline',
      baseline,
      '--progress',
      'none',
    ]);
    expect(pass.code, pass.stderr).toBe(0);
    expect(pass.stdout).toContain('check passed: 4 metric(s)');
    // A baseline with a thousandth of today's error on every episode: far beyond what the tiny suite's noise allows.
    const data = JSON.parse(readFileSync(baseline, 'utf8'));
    expect(data.null_replicates).toEqual([1, 2]);
    const episodesFile = baseline.replace(/\.json$/, '.episodes.json');
    const scores = JSON.parse(readFileSync(episodesFile, 'utf8'));
    const halved = data.metrics[0];
    for (const seed of halved.seeds)
      scores[seed.run_id][halved.mode] = scores[seed.run_id][halved.mode].map((v: number) => v / 1000);
    writeFileSync(episodesFile, JSON.stringify(scores));
    const fail = await cli([
      'check',
      '--suite',
      file,
      '--out',
      out,
      '--baseline',
      baseline,
      '--progress',
      'none',
    ]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/\| REGRESSED \| sine\/reptile \| mse_nontransductive \|/);
    expect(fail.stderr).toContain('regressed against');
  }, 300_000);

  it('resumes after the sweep process is killed, without redoing finished runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-resume-'));
    // Long enough (seconds per run) that the second run is surely still training when the sweep is killed.
    const file = tinySweep(dir, 'resume', ['reptile', 'fomaml', 'sgd-scratch'], 3000);
    const out = join(dir, 'results');
    const [firstRun, secondRun, thirdRun] = planSweep(file).runs.map((r) => r.runId) as [
      string,
      string,
      string,
    ];
    const store = openRunStore(out);

    const sweep: ChildProcess = spawn(
      process.execPath,
      [bin, 'sweep', file, '--out', out, '--progress', 'none'],
      {
        stdio: 'ignore',
      },
    );
    // Kill the sweep (SIGKILL: no cleanup) once the first run has finished and the second is under way.
    const finished = await waitFor(
      'the first run to finish and the second to start',
      async () => {
        const a = await store.getRun(firstRun);
        const b = await store.getRun(secondRun);
        return a?.status === 'FINISHED' && b?.status === 'RUNNING' ? a : undefined;
      },
      60_000,
    );
    sweep.kill('SIGKILL');
    // Its worker notices the sweep is gone and records the run it was doing as KILLED.
    const killed = await waitFor(
      'the interrupted run to be marked',
      async () => {
        const b = await store.getRun(secondRun);
        return b?.status === 'KILLED' ? b : undefined;
      },
      20_000,
    );
    expect(killed.error).toMatch(/went away|exited/);
    expect(await store.getRun(thirdRun)).toBeUndefined();

    const resumed = await cli(['sweep', file, '--out', out, '--json', '--progress', 'lines']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = lastJson(resumed.stdout);
    expect(summary.counts).toEqual({ runs: 3, finished: 3, reused: 1, failed: 0, killed: 0 });
    expect(summary.runs.map((r) => [r.id, r.reused])).toEqual([
      [firstRun, true],
      [secondRun, false],
      [thirdRun, false],
    ]);
    // The finished run kept its record (same attempt); the killed one continued its attempt from the checkpoint
    // its worker wrote on noticing the sweep was gone.
    const first = (await store.getRun(firstRun)) as RunRecord;
    expect(first.attempt).toBe(finished.attempt);
    expect(first.startTime).toBe(finished.startTime);
    const second = (await store.getRun(secondRun)) as RunRecord;
    expect(second.status).toBe('FINISHED');
    expect(second.attempt).toBe(killed.attempt);
    expect(second.resumes).toHaveLength(1);
    expect(resumed.stderr).toContain(`${secondRun}: resuming from its checkpoint at`);
  });

  it('exits non-zero with a summary when a run fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-fail-'));
    const file = tinySweep(dir, 'failing', ['reptile']);
    // A learning rate that blows the loss up at once: the run fails with the divergence message.
    const result = await cli([
      'sweep',
      file,
      '--out',
      join(dir, 'results'),
      '--set',
      'algorithm.learning_rate=1e30',
      '--json',
      '--progress',
      'none',
    ]);
    expect(result.code).toBe(1);
    const summary = lastJson(result.stdout);
    expect(summary.ok).toBe(false);
    expect(summary.runs[0]).toMatchObject({ status: 'FAILED' });
    expect(summary.runs[0]?.error).toMatch(/diverged at iteration 0/);
    expect(result.stderr).toMatch(
      /FAILED failing-[0-9a-f]{12}-s0 \(sine\/reptile seed 0\): training diverged/,
    );
    expect(result.stderr).toContain('1 run(s) did not finish; rerun the same command to retry them');
    // The failed run is recorded, so the report lists it with its reason.
    const report = readFileSync(join(dir, 'results', 'failing', 'report.md'), 'utf8');
    expect(report).toMatch(
      /## Runs that did not finish[\s\S]*\| failing-[0-9a-f]{12}-s0 \| sine\/reptile \| 0 \| FAILED \| .*diverged/,
    );
  });
});
