// The engine's event stream, followed for as long as the controller runs: reconnects with a growing
// pause when it breaks (the engine restarting), and says so (`resynced`), because events may have
// been missed meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { fromEvent } from './docker-map.js';
import type { RuntimeEvent } from './runtime.js';

export function watchEvents(docker: Docker, labels: Record<string, string>, onEvent: (e: RuntimeEvent) => void): () => void {
  let stopped = false;
  let current: NodeJS.ReadableStream | null = null;
  const filters = JSON.stringify({
    type: ['container'],
    event: ['die', 'oom', 'destroy', 'start'],
    label: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  });
  const deliver = (e: RuntimeEvent) => {
    try {
      onEvent(e);
    } catch {
      // a listener's failure must not end the stream
    }
  };

  async function follow(): Promise<void> {
    let pause = 500;
    let connected = false;
    while (!stopped) {
      try {
        const stream = await docker.getEvents({ filters });
        current = stream;
        if (connected) deliver({ kind: 'resynced', containerId: null, labels: {} });
        connected = true;
        pause = 500;
        await new Promise<void>((resolve) => {
          let buffered = '';
          stream.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('utf8');
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (!line) continue;
              try {
                const e = fromEvent(JSON.parse(line));
                if (e) deliver(e);
              } catch {
                // not one of the engine's JSON lines: skip it
              }
            }
          });
          stream.once('end', () => resolve());
          stream.once('close', () => resolve());
          stream.once('error', () => resolve());
        });
      } catch {
        // the engine does not answer: try again after the pause
      }
      if (stopped) return;
      await sleep(pause);
      pause = Math.min(pause * 2, 10_000);
    }
  }
  void follow();
  return () => {
    stopped = true;
    (current as unknown as { destroy?: () => void } | null)?.destroy?.();
  };
}
