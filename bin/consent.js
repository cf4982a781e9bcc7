#!/usr/bin/env node
// The only place that touches the process: argv, streams, signals, exit code.
import { userInfo } from 'node:os';
import { run, streamFailure } from '../dist/cli/run.js';

// The reader of our output went away (`consent profile export | head`): stop
// at once and quietly, as SIGPIPE stops a C program (exit code 141). Any other
// failure of stdout (a full disk behind `> file`) ends the command with the
// exit code and sentence of the one table.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(141);
  const { code, message } = streamFailure(e, 'standard output');
  process.stderr.write(message);
  process.exit(code);
});

let interrupts;
const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: { isTTY: process.stdin.isTTY, stream: process.stdin },
  env: process.env,
  now: () => new Date(),
  user: () => {
    try {
      return userInfo().username;
    } catch {
      return 'unknown';
    }
  },
  cwd: process.cwd(),
  // Only commands that must clean up (file writers, the server) take over
  // SIGINT/SIGTERM; others die as usual. Once only: a second Ctrl-C kills.
  interrupts: () => {
    if (!interrupts) {
      interrupts = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => interrupts.abort(sig));
    }
    return interrupts.signal;
  },
});
process.exitCode = code;
