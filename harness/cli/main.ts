/**
 * `otwin` entry point. Each sub-command lives in its own module under ./commands and exports
 * `main(argv): Promise<number>` (the exit code). User errors print one paragraph and exit 2; nothing
 * here prints a stack trace unless OTWIN_DEBUG is set.
 */
import { errorMessage, UserError } from '../util/errors.ts';
import { type InterruptedError, interruptSignal } from '../util/interrupt.ts';

type CommandModule = { main(argv: string[]): Promise<number>; summary: string };

// Each sub-command registers one line here.
const commands: Record<string, () => Promise<CommandModule>> = {
  lab: () => import('./commands/lab.ts'),
  doctor: () => import('./commands/doctor.ts'),
  run: () => import('./commands/run.ts'),
  report: () => import('./commands/report.ts'),
  replay: () => import('./commands/replay.ts'),
  bgp: () => import('./commands/bgp.ts'),
  compare: () => import('./commands/compare.ts'),
};

async function usage(): Promise<string> {
  const lines = ['usage: otwin <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    const summary = await load()
      .then((mod) => mod.summary)
      .catch(() => '(not available)');
    lines.push(`  ${name.padEnd(8)} ${summary}`);
  }
  lines.push('', 'Run `otwin <command> --help` for its options.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) throw new UserError(`unknown command '${name}'`, { hint: 'run `otwin --help` for the list' });
  const mod = await load();
  return mod.main(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (interruptSignal.aborted) {
    // What failed was cut short by the interruption, which prints its own lines and exits once its
    // cleanup is done (util/interrupt.ts).
    if (process.env.OTWIN_DEBUG) console.error(err);
    const reason = interruptSignal.reason as InterruptedError;
    process.exitCode = reason.signal === 'SIGINT' ? 130 : 143;
  } else {
    if (process.env.OTWIN_DEBUG) console.error(err);
    console.error(`otwin: ${errorMessage(err)}`);
    process.exitCode = err instanceof UserError ? err.exitCode : 1;
  }
}
