import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function token(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return s;
}

/** Instance id: 12 lowercase letters/digits, starting with a letter (safe in paths, names, labels). */
export const newInstanceId = () => `i${token(11)}`;

/** Version id: sortable by time, e.g. v20261121t083015-k3x9. */
export const newVersionId = (now = new Date()) =>
  `v${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}-${token(4)}`;

/** Passwords: 24 URL-safe characters (144 bits). */
export const newPassword = () => randomBytes(18).toString('base64url');
