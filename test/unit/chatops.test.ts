// ChatOps parsing and the permission rule, as pure functions.
import { describe, expect, it } from 'vitest';
import {
  allowedByAssociation,
  commandLine,
  describeSeconds,
  HELP_TEXT,
  isResetLabel,
  parseChatDuration,
  parseCommand,
} from '../../controller/github/chatops.js';

describe('parseCommand', () => {
  it('reads each command', () => {
    expect(parseCommand('/myaas reset')).toEqual({ kind: 'reset' });
    expect(parseCommand('/myaas recreate')).toEqual({ kind: 'recreate' });
    expect(parseCommand('/myaas protect')).toEqual({ kind: 'protect', on: true });
    expect(parseCommand('/myaas unprotect')).toEqual({ kind: 'protect', on: false });
    expect(parseCommand('/myaas extend 3d')).toEqual({ kind: 'extend', seconds: 3 * 86400 });
    expect(parseCommand('/myaas help')).toEqual({ kind: 'help' });
    expect(parseCommand('/myaas')).toEqual({ kind: 'help' });
  });

  it('is tolerant of case and whitespace', () => {
    expect(parseCommand('  /MyAaS   RESET  ')).toEqual({ kind: 'reset' });
    expect(parseCommand('/myaas\textend\t 12h')).toEqual({ kind: 'extend', seconds: 12 * 3600 });
    expect(parseCommand('/myaas extend 3 days')).toEqual({ kind: 'extend', seconds: 3 * 86400 });
    expect(parseCommand('\r\n/myaas reset\r\n')).toEqual({ kind: 'reset' });
  });

  it('takes the first command line anywhere in the comment, skipping quotes and code blocks', () => {
    expect(parseCommand('Thanks, looks good!\n\n/myaas reset\n/myaas recreate')).toEqual({ kind: 'reset' });
    expect(parseCommand('> /myaas reset\n\nDone that for you.')).toBeNull();
    expect(parseCommand('Try this:\n```\n/myaas reset\n```\n')).toBeNull();
    expect(parseCommand('~~~sh\n/myaas reset\n~~~\n/myaas protect')).toEqual({ kind: 'protect', on: true });
    expect(commandLine('a\n  /myaas   extend 1w\nb')).toBe('/myaas   extend 1w');
  });

  it('leaves ordinary comments alone', () => {
    for (const body of ['', 'LGTM', 'please run `/myaas reset`', 'see /myaas reset', '/myaasreset', '/myaas-bot reset', 'x /myaas reset']) {
      expect(parseCommand(body), body).toBeNull();
    }
  });

  it('answers an unknown or malformed command with help that says what was wrong', () => {
    expect(parseCommand('/myaas destroy-everything')).toEqual({ kind: 'help', problem: 'unknown command `destroy-everything`' });
    expect(parseCommand('/myaas extend')).toMatchObject({ kind: 'help', problem: expect.stringContaining('needs a duration') });
    expect(parseCommand('/myaas extend forever')).toMatchObject({ kind: 'help', problem: expect.stringContaining('needs a duration') });
    expect(parseCommand('/myaas extend 0d')).toMatchObject({ kind: 'help' });
    expect(parseCommand('/myaas extend 3')).toMatchObject({ kind: 'help' });
    expect(parseCommand('/myaas reset chinook')).toMatchObject({ kind: 'help', problem: expect.stringContaining('takes no arguments') });
    expect(parseCommand('/myaas `rm -rf`')).toEqual({ kind: 'help', problem: 'unknown command `rm`' });
  });
});

describe('durations', () => {
  it('parses minutes, hours, days and weeks', () => {
    expect(parseChatDuration('90m')).toBe(5400);
    expect(parseChatDuration('90 minutes')).toBe(5400);
    expect(parseChatDuration('2h')).toBe(7200);
    expect(parseChatDuration('1 hour')).toBe(3600);
    expect(parseChatDuration('3D')).toBe(259200);
    expect(parseChatDuration('2w')).toBe(1209600);
    for (const bad of ['', '3', 'd', '-1d', '1.5d', '3y', '3 fortnights', '9999999d']) expect(parseChatDuration(bad), bad).toBeNull();
  });

  it('describes them in words', () => {
    expect(describeSeconds(259200)).toBe('3 days');
    expect(describeSeconds(604800)).toBe('1 week');
    expect(describeSeconds(5400)).toBe('90 minutes');
    expect(describeSeconds(61)).toBe('61 seconds');
  });
});

describe('who may command', () => {
  it('allows owners, members and collaborators only', () => {
    for (const a of ['OWNER', 'MEMBER', 'COLLABORATOR', 'member']) expect(allowedByAssociation(a), a).toBe(true);
    for (const a of ['CONTRIBUTOR', 'FIRST_TIMER', 'FIRST_TIME_CONTRIBUTOR', 'MANNEQUIN', 'NONE', '', null, undefined]) {
      expect(allowedByAssociation(a), String(a)).toBe(false);
    }
  });

  it('knows the reset label in any case', () => {
    expect(isResetLabel('myaas:reset')).toBe(true);
    expect(isResetLabel(' MYAAS:Reset ')).toBe(true);
    expect(isResetLabel('myaas:protect')).toBe(false);
    expect(isResetLabel(undefined)).toBe(false);
  });

  it('documents every command in the help text', () => {
    for (const c of ['/myaas reset', '/myaas extend 3d', '/myaas protect', '/myaas unprotect', '/myaas recreate', '/myaas help', 'myaas:reset']) {
      expect(HELP_TEXT).toContain(c);
    }
  });
});
