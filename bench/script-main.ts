/**
 * How a bench script ends. Its exit code is what its main returns (0 for none); an error is printed under the
 * script's name (with its stack), every child is stopped, and the exit code is 1. After SIGINT/SIGTERM nothing
 * more is done: children.ts is already stopping them and exits with 130.
 */
import { stopAll, stoppingOnSignal } from './children.js';

/**
 * Runs `main`. `exit`: end the process as soon as it is done (a driver's sockets and timers would otherwise
 * keep it alive a while) rather than letting it end when nothing is left to run.
 */
export function runMain(name: string, main: () => Promise<number | void>, o: { readonly exit?: boolean } = {}): void {
  const end = (code: number): void => {
    if (o.exit === true) process.exit(code);
    process.exitCode = code;
  };
  main().then(
    (code) => end(code ?? 0),
    async (err: unknown) => {
      if (stoppingOnSignal()) return;
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await stopAll();
      end(1);
    },
  );
}
