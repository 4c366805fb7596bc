/**
 * containerlab `ports:` on the netns runtime: one small forwarder per published port
 * (port_forward.py), listening in the host namespace (127.0.0.1 unless the entry names an address)
 * and connecting from inside the lab's management namespace to the node's management address, the
 * way Docker's published port reaches the container's address. argv[0] is the lab's process marker:
 * destroy recognises the forwarder as the lab's own (and its network namespace is the lab's).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { procStartTime } from '../../kernel/procs.ts';
import { HarnessError, UserError } from '../../util/errors.ts';
import type { PublishedPort } from './fields.ts';

const FORWARDER = join(import.meta.dirname, 'port_forward.py');
const PYTHON = '/usr/bin/python3';

export interface Forwarder {
  node: string;
  spec: string;
  pid: number;
  startTime: number;
}

export function forwarderMarker(markerPrefix: string, node: string, port: PublishedPort): string {
  return `${markerPrefix}${node} port ${port.hostAddress}:${port.hostPort}`;
}

export function startForwarder(options: {
  marker: string;
  node: string;
  port: PublishedPort;
  mgmtNetns: string;
  target: string;
  logFile: string;
  where: string;
  timeoutMs?: number;
}): Promise<Forwarder> {
  const { port } = options;
  const log = openSync(options.logFile, 'a');
  const child = spawn(
    PYTHON,
    [
      FORWARDER,
      `/run/netns/${options.mgmtNetns}`,
      port.hostAddress,
      String(port.hostPort),
      options.target,
      String(port.nodePort),
    ],
    { argv0: options.marker, detached: true, stdio: ['ignore', 'pipe', log] },
  );
  closeSync(log);
  const stdout = child.stdout;
  if (!stdout) throw new HarnessError('port forwarder started without a stdout pipe');
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stdout.destroy();
      child.unref();
      const pid = child.pid;
      const startTime = pid === undefined ? undefined : procStartTime(pid);
      if (error || pid === undefined || startTime === undefined) {
        if (pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        reject(error ?? new HarnessError(`port forwarder for ${port.spec} exited at start`));
        return;
      }
      resolve({ node: options.node, spec: port.spec, pid, startTime });
    };
    const timer = setTimeout(
      () => finish(new HarnessError(`port forwarder for ${port.spec} did not start in time`)),
      options.timeoutMs ?? 10_000,
    );
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      out += chunk;
      if (/^ready\n/m.test(out)) finish(undefined);
      const error = /^error (.*)\n/m.exec(out)?.[1];
      if (error) {
        finish(
          new UserError(`node '${options.node}': ports entry '${port.spec}': ${error}`, {
            where: options.where,
            hint: 'pick a free host port (another program or lab already listens on it)',
          }),
        );
      }
    });
    child.on('error', (e) => finish(new HarnessError(`cannot start the port forwarder: ${e.message}`)));
    child.on('exit', (code) =>
      setImmediate(() => finish(new HarnessError(`port forwarder exited (${code}): ${out.trim()}`))),
    );
  });
}
