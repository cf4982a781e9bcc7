// A server in a process of its own, for the benches that drive one with wrk
// (bench:serve, bench:pg). Its stderr (the serve log, a line per request) goes
// to a file, not a pipe, so that reading it takes no CPU from wrk during the
// run; the server still writes every line. `url` resolves with the address
// its startup line names; `stop` ends it with SIGTERM.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** Starts `node args…` (CONSENT_ACTOR=bench) logging to `logFile`; { url, stop, logFile }. */
export function startServerProcess(name, logFile, args) {
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', fd], env: { ...process.env, CONSENT_ACTOR: 'bench' } });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(logFile, 'utf8').slice(0, 4096));
      if (m) {
        clearInterval(poll);
        resolve(m[1]);
      } else if (exited) {
        clearInterval(poll);
        reject(new Error(`${name} exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`));
      }
    }, 50);
  });
  const stop = () =>
    new Promise((resolve) => {
      if (exited) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { url, stop, logFile };
}
