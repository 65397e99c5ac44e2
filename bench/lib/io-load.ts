// Background I/O on the pool: a separate Node process that writes 8 MiB chunks to one file with an
// fsync after each, round and round over 512 MiB, until stopped; then the file goes. A child process
// so that its writes and fsyncs do not queue in the bench's (and so the in-process controller's) libuv
// thread pool: the controller should feel the disk, not a busy thread pool.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { say, sleep } from './util.js';

export const CHUNK_BYTES = 8 * 1024 * 1024;
const WRAP_BYTES = 512 * 1024 * 1024;

// Plain JavaScript for `node -e`: random bytes (nothing compresses or dedupes them), positional writes.
const WRITER = `
const fs = require('node:fs');
const crypto = require('node:crypto');
const [file, chunk, wrap] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const buf = crypto.randomBytes(chunk);
const fd = fs.openSync(file, 'w');
let pos = 0, written = 0, stop = false;
process.on('SIGTERM', () => { stop = true; });
process.stdout.write('started\\n');
(async function loop() {
  while (!stop) {
    await new Promise((r) => fs.write(fd, buf, 0, chunk, pos, r));
    await new Promise((r) => fs.fsync(fd, r));
    written += chunk;
    pos = (pos + chunk) % wrap;
  }
  fs.closeSync(fd);
  process.stdout.write('written ' + written + '\\n');
  process.exit(0);
})();
`;

export interface IoLoad {
  file: string;
  /** Stops the writer, removes its file; resolves with what it wrote and its rate. */
  stop(): Promise<{ bytes: number; seconds: number; mibPerSecond: number }>;
}

export async function startIoLoad(dir: string): Promise<IoLoad> {
  const file = join(dir, `io-load-${process.pid}.bin`);
  const child: ChildProcess = spawn(process.execPath, ['-e', WRITER, file, String(CHUNK_BYTES), String(WRAP_BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] });
  // A bench killed before stop() must not leave the writer running.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = performance.now();
  for (let i = 0; !out.includes('started'); i++) {
    if (child.exitCode !== null || i > 500) throw new Error(`the I/O writer did not start (${child.exitCode})`);
    await sleep(10);
  }
  // Let it reach its steady state (the first chunks only fill the page cache).
  await sleep(1500);
  say(`background writer on ${dir}: ${CHUNK_BYTES / 2 ** 20} MiB chunks with fsync, pid ${child.pid}`);
  return {
    file,
    async stop() {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      process.removeListener('exit', kill);
      await rm(file, { force: true });
      const seconds = (performance.now() - t0) / 1000;
      const bytes = Number(/written ([0-9]+)/.exec(out)?.[1] ?? 0);
      return { bytes, seconds: Math.round(seconds * 10) / 10, mibPerSecond: Math.round((bytes / 2 ** 20 / seconds) * 10) / 10 };
    },
  };
}
