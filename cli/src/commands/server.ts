import { grokmapHome, runningDevServer, startDevServer, stopDevServer } from '@grokmap/infra';
import type { Command } from 'commander';
import { createLogger, positiveInteger } from '../context.js';

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description('the embedded Temporal dev server (database under .grokmap/)');
  server
    .command('start', { isDefault: true })
    .description('start it in the background (or report the running one)')
    .option('--port <n>', 'gRPC port (default 7233 when free)', positiveInteger('--port'))
    .action(async (opts: { port?: number }) => {
      const logger = createLogger(false);
      const home = grokmapHome();
      const running =
        runningDevServer(home) ??
        (await startDevServer({ home, logger, detached: true, ...(opts.port ? { port: opts.port } : {}) }));
      process.stdout.write(
        `temporal dev server at ${running.address}${running.uiUrl ? `, Web UI ${running.uiUrl}` : ''}\ndatabase ${running.dbFile}\n`,
      );
    });
  server
    .command('stop')
    .description('stop the embedded server (its history stays in the database file)')
    .action(async () => {
      const stopped = await stopDevServer(grokmapHome());
      process.stdout.write(stopped ? 'stopped\n' : 'no embedded server running\n');
    });
  server.command('status').action(() => {
    const running = runningDevServer(grokmapHome());
    process.stdout.write(
      running
        ? `running at ${running.address} (pid ${running.pid})${running.uiUrl ? `, Web UI ${running.uiUrl}` : ''}\n`
        : 'not running\n',
    );
  });
}
