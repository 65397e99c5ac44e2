// Reading what a clone costs from the tools' output (the real pools are in
// test/integration/storage-usage.test.ts).
import { describe, expect, it } from 'vitest';
import { parseBtrfsDu, parseFilefrag } from '../../controller/storage/usage.js';

describe('clone usage parsers', () => {
  it('btrfs filesystem du -s --raw: the Exclusive column', () => {
    const out = '     Total   Exclusive  Set shared  Filename\n  26005504     4005888    21999616  /var/lib/myaas/instances/i1\n';
    expect(parseBtrfsDu(out)).toBe(4005888);
    expect(() => parseBtrfsDu('ERROR: not a btrfs filesystem')).toThrow(/unexpected output/);
  });

  it('filefrag -v: extents not flagged shared, in each file\'s block size', () => {
    const out = [
      'Filesystem type is: 58465342',
      'File size of /p/b/f1 is 20000000 (4883 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..     732:         24..       756:    733:            ',
      '   1:      733..    4882:    3932925..   3937074:   4150:        757: last,shared,eof',
      '/p/b/f1: 2 extents found',
      'File size of /p/b/f2 is 5000 (2 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..       1:    3932170..   3932171:      2:             last,shared,eof',
      '/p/b/f2: 1 extent found',
      'File size of /p/b/f3 is 1000000 (245 blocks of 1024 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:        0..     244:        760..      1004:    245:             last,eof',
      '/p/b/f3: 1 extent found',
      'File size of /p/b/empty is 0 (0 blocks of 4096 bytes)',
      '/p/b/empty: 0 extents found',
    ].join('\n');
    expect(parseFilefrag(out)).toBe(733 * 4096 + 245 * 1024);
  });
});
