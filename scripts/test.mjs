#!/usr/bin/env node
// The README's test command: runs every package's tests in one vitest process and ends with the line
// `N passed, N failed` that CI reads. Extra arguments go to vitest (e.g. `pnpm test --project datasets`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reportFile = join(root, '.cache', 'vitest-report.json');
mkdirSync(dirname(reportFile), { recursive: true });
rmSync(reportFile, { force: true });

// What the tests need beyond npm packages: the MLflow virtualenv, headless Chromium and Fashion-MNIST's files
// (.ci/setup.d/*.sh; each returns at once when its part is there). A failure is reported and the tests run
// anyway: the tests that need the missing part then fail, saying what to install.
const projects = process.argv.flatMap((arg, i) =>
  arg === '--project' ? [process.argv[i + 1]] : arg.startsWith('--project=') ? [arg.slice(10)] : [],
);
const needsSetup = ['tracking', 'runner', 'datasets', 'averaging'];
if (projects.length === 0 || projects.some((p) => needsSetup.includes(p))) {
  const setupDir = join(root, '.ci', 'setup.d');
  for (const script of readdirSync(setupDir)
    .filter((f) => f.endsWith('.sh'))
    .sort()) {
    const setup = spawnSync('bash', [join(setupDir, script)], { cwd: root, stdio: 'inherit' });
    if (setup.status !== 0)
      console.error(
        `test: setup .ci/setup.d/${script} failed (exit ${setup.status}); the tests that need it will fail`,
      );
  }
}

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`];
const result = spawnSync(process.execPath, [...args, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed = report.numPassedTests;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // Suites that failed to load hold no counted tests; count each as one failure so they cannot hide.
  failed =
    report.numFailedTests +
    (report.testResults ?? []).filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
} catch {
  failed = 1;
  console.error(
    `test: vitest wrote no report at ${reportFile} (exit ${result.status}); counting the run as failed`,
  );
}
if (result.status !== 0 && failed === 0) failed = 1;
// Skipped tests (e.g. the tensorflow backend's where tfjs-node cannot be installed) print their reason above.
if (skipped > 0) console.log(`test: ${skipped} skipped (see SKIPPED lines above for the reasons given)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
