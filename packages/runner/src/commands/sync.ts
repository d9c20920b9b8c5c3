import { syncOutbox } from '@reptile-bench/tracking';
import { type Command, InvalidArgumentError } from 'commander';
import { failCommand } from './options.ts';

interface SyncCommandOptions {
  out: string;
  trackingUri?: string;
  all?: boolean;
  json?: boolean;
  retries: number;
}

/** `reptile-bench sync`: delivers what the outbox of a run store still holds to MLflow. */
export function register(program: Command): void {
  program
    .command('sync')
    .description('deliver runs waiting in the outbox to MLflow (exactly once; safe to repeat)')
    .option('--out <dir>', 'folder of the run store', 'results')
    .option('--tracking-uri <uri>', 'MLflow tracking server (default: $MLFLOW_TRACKING_URI)')
    .option('--all', 'also mirror runs that were recorded without MLflow')
    .option('--retries <n>', 'retries per request while MLflow fails or is unreachable', retryCount, 5)
    .option('--json', 'print the report as one JSON line on stdout')
    .action(async function (this: Command, opts: SyncCommandOptions) {
      const mlflowUri = opts.trackingUri ?? process.env.MLFLOW_TRACKING_URI;
      if (!mlflowUri) {
        this.error(
          'sync: no MLflow server given; set MLFLOW_TRACKING_URI or pass --tracking-uri http://host:port',
          {
            exitCode: 2,
          },
        );
      }
      const report = await syncOutbox({
        dir: opts.out,
        mlflowUri: mlflowUri!,
        all: opts.all === true,
        retries: opts.retries,
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        process.stdout.write(
          `sync: ${report.delivered} event(s) delivered to ${mlflowUri} from ${report.runs} run(s); ` +
            `${report.pending} still pending\n`,
        );
        for (const error of report.errors) process.stderr.write(`sync: ${error}\n`);
      }
      if (report.pending > 0) {
        failCommand('sync: some events could not be delivered; run `reptile-bench sync` again later', 1);
      }
    });
}

function retryCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--retries must be 0 or more, got "${value}"`);
  return n;
}
