// What a clone costs the pool: the bytes it does not share with its template (or anything else).
// A clone's apparent size is its template's, which tells an operator nothing about which instance
// fills the pool; the copy-on-write filesystems can tell the blocks written since the clone apart.
import type { CommandRunner } from '../domain/command.js';
import { storageFailure, walk } from './common.js';

/** `btrfs filesystem du -s --raw` counts extents; "Exclusive" needs no quota groups. */
export async function btrfsExclusiveBytes(runner: CommandRunner, p: string): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await runner.run('btrfs', ['filesystem', 'du', '-s', '--raw', p]));
  } catch (e) {
    throw storageFailure(`measuring ${p}`, e, 'btrfs filesystem du needs btrfs-progs and a controller running as root');
  }
  return parseBtrfsDu(stdout);
}

/** The Exclusive column of `btrfs filesystem du -s --raw` (header line, then one line per path). */
export function parseBtrfsDu(out: string): number {
  const lines = out.trim().split('\n');
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  const col = header.indexOf('Exclusive');
  const row = lines[1]?.trim().split(/\s+/) ?? [];
  const n = Number(row[col]);
  if (col < 0 || !Number.isFinite(n)) throw new Error(`unexpected output of btrfs filesystem du: ${out.slice(0, 200)}`);
  return n;
}

// filefrag takes many files per call; keep the argument list well below the kernel's limit.
const BATCH_BYTES = 96 * 1024;

/**
 * Bytes of the regular files under `root` in extents not flagged `shared` (FIEMAP, through
 * `filefrag -v`): on XFS and btrfs a reflinked file shares its extents until they are rewritten.
 */
export async function unsharedBytes(runner: CommandRunner, root: string): Promise<number> {
  const files: string[] = [];
  await walk(root, (p, kind) => {
    if (kind === 'file') files.push(p);
  });
  let total = 0;
  for (let i = 0; i < files.length; ) {
    const batch: string[] = [];
    let bytes = 0;
    while (i < files.length && (batch.length === 0 || bytes + files[i].length + 1 <= BATCH_BYTES)) {
      bytes += files[i].length + 1;
      batch.push(files[i++]);
    }
    let stdout: string;
    try {
      ({ stdout } = await runner.run('filefrag', ['-v', '--', ...batch]));
    } catch (e) {
      throw storageFailure(`measuring ${root}`, e, 'filefrag (e2fsprogs) reads the extents of reflinked files');
    }
    total += parseFilefrag(stdout);
  }
  return total;
}

/**
 * Sums the extents of `filefrag -v` output that are not shared. Each file starts with
 * "File size of X is N (B blocks of S bytes)"; its extent lines give a length in those blocks and
 * flags after the last colon.
 */
export function parseFilefrag(out: string): number {
  let blockSize = 0;
  let total = 0;
  for (const line of out.split('\n')) {
    const head = /^File size of .* \(\d+ blocks? of (\d+) bytes\)$/.exec(line);
    if (head) {
      blockSize = Number(head[1]);
      continue;
    }
    // "   1:      733..    4882:    3932925..   3937074:   4150:        757: last,shared,eof"
    // (the "expected" column is empty for an extent that follows on from the one before)
    const ext = /^\s*\d+:\s+\d+\.\.\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+):\s*(?:\d+:)?\s*(.*)$/.exec(line);
    if (!ext || blockSize === 0) continue;
    const flags = ext[2].split(',').map((f) => f.trim());
    if (!flags.includes('shared')) total += Number(ext[1]) * blockSize;
  }
  return total;
}
