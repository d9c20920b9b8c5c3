import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openRunStore } from '@reptile-bench/tracking';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReports } from '../src/report/write.ts';
import { chromiumFlags, chromiumPath } from './chromium.ts';
import { writeFixtureStore } from './fixtures.ts';

describe('report.html in headless Chromium', () => {
  let browser: Browser;
  let reportFile: string;
  beforeAll(async () => {
    const fixture = await writeFixtureStore({ failOne: true });
    const runs = await openRunStore(fixture.dir).listRuns({ sweep: 'fixture' });
    await writeReports(fixture.dir, fixture.plan, runs);
    reportFile = join(fixture.dir, 'fixture', 'report.html');
    browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumFlags, timeout: 30_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('renders the tables and every chart with its lines, points and axes, fetching nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });

    const tables = await page.$$eval('table', (ts) => ts.map((t) => t.querySelectorAll('tbody tr').length));
    expect(tables).toEqual([2, 1, 1]);
    expect(await page.textContent('table td')).toBe('omniglot-5w1s/reptile');

    const charts = await page.$$eval('figure.chart', (figures) =>
      figures.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const linePaths = [...f.querySelectorAll('.mark-line.role-mark path')].map((p) =>
          (p as unknown as { getTotalLength(): number }).getTotalLength(),
        );
        return {
          kind: f.getAttribute('data-chart'),
          setting: f.getAttribute('data-setting'),
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          lineLength: linePaths.reduce((a, b) => a + b, 0),
          points: f.querySelectorAll('.mark-symbol.role-mark path').length,
          rules: f.querySelectorAll('.mark-rule.role-mark line').length,
          text: [...f.querySelectorAll('svg text')].map((t) => t.textContent ?? ''),
        };
      }),
    );
    expect(charts.map((c) => `${c.setting}:${c.kind}`)).toEqual([
      'omniglot-5w1s:learning-curve',
      'omniglot-5w1s:accuracy-vs-time',
      'omniglot-5w1s:final',
      'sine:learning-curve',
      'sine:accuracy-vs-time',
      'sine:final',
    ]);
    for (const chart of charts) {
      expect(chart.width, `${chart.kind} width`).toBeGreaterThan(300);
      expect(chart.height, `${chart.kind} height`).toBeGreaterThan(100);
      if (chart.kind === 'final') {
        // Two modes per configuration (+ the paper's two points for Reptile on Omniglot).
        expect(chart.points).toBe(chart.setting === 'omniglot-5w1s' ? 6 : 2);
        expect(chart.rules).toBeGreaterThanOrEqual(chart.setting === 'omniglot-5w1s' ? 4 : 2);
      } else {
        // Omniglot curves: 4 validation points (every 25 of 100 iterations); sine: 2 (every 50).
        expect(chart.lineLength).toBeGreaterThan(100);
        expect(chart.points).toBe(chart.setting === 'omniglot-5w1s' ? 4 : 2);
      }
    }
    expect(charts[0]?.text).toContain('training examples processed');
    expect(charts[1]?.text).toContain('training time (s)');
    expect(requests).toEqual([]);
    await page.close();
  });
});
