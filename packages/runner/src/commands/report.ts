import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'regenerate results.csv, summary.csv, report.md and report.html from the run store, without training',
    )
    .argument('[targets...]', 'sweep files or sweep names (default: every sweep in the store)')
    .option(
      '--out <dir>',
      'folder holding the run store (runs/); reports are written to <out>/<sweep>/',
      'results',
    )
    .action(async (targets: string[], opts: { out: string }) => {
      const { regenerateReports } = await import('../actions/report.ts');
      for (const dir of await regenerateReports(targets, opts.out)) process.stdout.write(`reports: ${dir}\n`);
    });
}
