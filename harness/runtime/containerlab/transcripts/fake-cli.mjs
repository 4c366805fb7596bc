#!/usr/bin/env node
// Replays a RECORDED TRANSCRIPT of containerlab's (and docker's) documented output — it is not a
// live run of either. Used by the containerlab runtime's tests, which put a `containerlab` and a
// `docker` shim first on PATH that call: node fake-cli.mjs <command> <argv...>
//
//   OTWIN_FAKE_TRANSCRIPT  the transcript JSON ({ calls: [{ command, argv, exitCode, stdout, stderr }] })
//   OTWIN_FAKE_LOG         file that receives one JSON line per call: { command, argv }
//   OTWIN_FAKE_TOPOLOGY    replaces the placeholder <TOPOLOGY> in recorded argv
//
// The n-th call with a given argv gets the n-th matching recorded answer (the last one repeats), so a
// transcript can show a lab appearing after deploy. A call the transcript does not know exits 99.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

const [command, ...argv] = process.argv.slice(2);
const transcript = JSON.parse(readFileSync(process.env.OTWIN_FAKE_TRANSCRIPT, 'utf8'));
const log = process.env.OTWIN_FAKE_LOG;
const topology = process.env.OTWIN_FAKE_TOPOLOGY ?? '';
const key = JSON.stringify({ command, argv });

const previous =
  log && existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line === key).length
    : 0;
if (log) appendFileSync(log, `${key}\n`);

const matching = transcript.calls.filter(
  (call) =>
    call.command === command &&
    JSON.stringify(call.argv.map((a) => a.replaceAll('<TOPOLOGY>', topology))) === JSON.stringify(argv),
);
const answer = matching[Math.min(previous, matching.length - 1)];
if (!answer) {
  process.stderr.write(`fake ${command}: the transcript has no answer for argv ${JSON.stringify(argv)}\n`);
  process.exit(99);
}
if (answer.stderr) process.stderr.write(answer.stderr);
if (answer.stdout) process.stdout.write(answer.stdout);
process.exitCode = answer.exitCode ?? 0;
