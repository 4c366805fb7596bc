/**
 * Security of the reference roles (issue 10 item 8): secrets from owner-only files, the authenticated
 * controller↔agent channel, owner-only database files, malformed paths refused before authentication,
 * and the bins refusing secrets on the command line.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from './controller/controller.ts';
import { MemoryEvpnFabric } from './controller/evpn.ts';
import { DirectoryClient } from './directory/client.ts';
import { DirectoryServer } from './directory/server.ts';
import { encode, PROTOCOL_VERSION } from './protocol/messages.ts';
import {
  agentCredential,
  credentialProves,
  readSecretFile,
  SecretFileError,
  secretsEqual,
} from './protocol/secret.ts';

const REPO = join(import.meta.dirname, '..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'otf-sec-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret files', () => {
  it('creates a missing secret 0600 and reads the same one back', () => {
    const file = join(dir, 'new', 'agent.secret');
    const first = readSecretFile(file, { create: true });
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readSecretFile(file, { create: true })).toBe(first);
  });

  it('refuses a file others can read, naming the file and the fix', () => {
    const file = join(dir, 'open.token');
    writeFileSync(file, 'abc\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => readSecretFile(file)).toThrow(SecretFileError);
    expect(() => readSecretFile(file)).toThrow(/mode 0644.*chmod 600/);
    chmodSync(file, 0o600);
    expect(readSecretFile(file)).toBe('abc');
  });

  it('refuses a missing file without create, and an empty one', () => {
    expect(() => readSecretFile(join(dir, 'absent'))).toThrow(/does not exist/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    expect(() => readSecretFile(empty)).toThrow(/empty/);
  });

  it('compares secrets of any length and proves only the hypervisor the credential names', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    const cred = agentCredential('s', 'hv1');
    expect(credentialProves('s', 'hv1', cred)).toBe(true);
    expect(credentialProves('s', 'hv2', cred)).toBe(false);
    expect(credentialProves('other', 'hv1', cred)).toBe(false);
    expect(credentialProves('s', 'hv1', undefined)).toBe(false);
  });
});

describe('controller↔agent channel', () => {
  const SECRET = 'lab-shared-secret';
  let directory: DirectoryServer;
  let controller: Controller;
  let port: number;
  const lines: string[] = [];

  beforeAll(async () => {
    directory = new DirectoryServer({ dbPath: join(dir, 'ch.db'), token: 't', host: '127.0.0.1', port: 0 });
    const dirPort = (await directory.listen()).port;
    controller = new Controller({
      id: 'c1',
      zone: 'z1',
      listen: { host: '127.0.0.1', port: 0 },
      directory: new DirectoryClient({ url: `http://127.0.0.1:${dirPort}`, token: 't' }),
      evpn: new MemoryEvpnFabric().member('192.0.2.1'),
      agentSecret: SECRET,
      log: (l) => lines.push(l),
    });
    port = (await controller.start()).port;
  });
  afterAll(async () => {
    await controller.stop();
    await directory.close();
  });

  /** Sends a hello and returns the first message the controller answers with. */
  const hello = (fields: Record<string, unknown>, extra?: object) =>
    new Promise<{ type: string; code?: string; message?: string }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let buffer = '';
      socket.on('connect', () => {
        socket.write(
          encode({
            type: 'hello',
            versions: [PROTOCOL_VERSION],
            zone: 'z1',
            vtep: '10.0.0.1',
            ...fields,
          } as never),
        );
        if (extra) socket.write(`${JSON.stringify(extra)}\n`);
      });
      socket.on('data', (chunk) => {
        buffer += chunk.toString();
        const nl = buffer.indexOf('\n');
        if (nl >= 0) {
          const first = JSON.parse(buffer.slice(0, nl));
          if (!extra || first.type === 'error') {
            socket.destroy();
            resolve(first);
          } else {
            const rest = buffer
              .slice(nl + 1)
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l));
            const err = rest.find((m: { type: string }) => m.type === 'error');
            if (err) {
              socket.destroy();
              resolve(err);
            }
          }
        }
      });
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        resolve({ type: 'timeout' });
      }, 3000);
    });

  it('refuses a hello without a credential', async () => {
    const answer = await hello({ agent: 'hv1' });
    expect(answer).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(lines.join('\n')).toMatch(/refused: the credential does not prove hypervisor "hv1"/);
  });

  it('refuses an agent that claims another hypervisor than its credential names', async () => {
    const answer = await hello({ agent: 'hv1', credential: agentCredential(SECRET, 'hv2') });
    expect(answer).toMatchObject({ type: 'error', code: 'unauthenticated' });
  });

  it('refuses a credential made with another secret', async () => {
    const answer = await hello({ agent: 'hv1', credential: agentCredential('guess', 'hv1') });
    expect(answer).toMatchObject({ type: 'error', code: 'unauthenticated' });
  });

  it('welcomes an agent whose credential proves its name', async () => {
    const answer = await hello({ agent: 'hv1', credential: agentCredential(SECRET, 'hv1') });
    expect(answer).toMatchObject({ type: 'welcome', controller: 'c1' });
  });

  it('refuses a second hello that would change who the session is', async () => {
    const answer = await hello(
      { agent: 'hv1', credential: agentCredential(SECRET, 'hv1') },
      {
        type: 'hello',
        versions: [PROTOCOL_VERSION],
        agent: 'hv2',
        credential: agentCredential(SECRET, 'hv2'),
      },
    );
    expect(answer).toMatchObject({ type: 'error', code: 'unauthenticated' });
    expect(answer.message).toMatch(/second hello/);
  });
});

describe('directory', () => {
  it('keeps the database, -wal and -shm files owner-only whatever the umask', async () => {
    const old = process.umask(0o022);
    const db = join(dir, 'perm', 'directory.db');
    const server = new DirectoryServer({ dbPath: db, token: 't', host: '127.0.0.1', port: 0 });
    try {
      const { port } = await server.listen();
      await new DirectoryClient({ url: `http://127.0.0.1:${port}`, token: 't' }).create('zones', {
        id: 'z1',
        name: 'z1',
      });
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        expect(existsSync(file), file).toBe(true);
        expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
      }
    } finally {
      process.umask(old);
      await server.close();
    }
  });

  it('tightens database files an earlier run left readable', async () => {
    const db = join(dir, 'loose.db');
    writeFileSync(db, '');
    chmodSync(db, 0o644);
    const server = new DirectoryServer({ dbPath: db, token: 't', host: '127.0.0.1', port: 0 });
    await server.close();
    expect(statSync(db).mode & 0o777).toBe(0o600);
  });

  it('answers a malformed percent-encoded path with 400 before authentication, logging no stack', async () => {
    const logged: string[] = [];
    const server = new DirectoryServer({
      dbPath: join(dir, 'path.db'),
      token: 't',
      host: '127.0.0.1',
      port: 0,
      log: (l) => logged.push(l),
    });
    try {
      const { port } = await server.listen();
      for (const path of ['/v1/vports/%zz', '/v1/%', '/v1/vports/%C0%AF']) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        expect(res.status, path).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('bad_path');
        expect(body.error.message).not.toMatch(/\bat \S+:\d+/);
      }
      expect(logged.join('\n')).not.toMatch(/URIError|\n\s+at /);
    } finally {
      await server.close();
    }
  });
});

describe('bins take secrets from files only', () => {
  const bin = (role: string, args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'reference-impl', 'bin', `${role}.ts`), ...args],
      {
        encoding: 'utf8',
        cwd: REPO,
        env: { ...process.env, DIRECTORY_TOKEN: '' },
        timeout: 30_000,
      },
    );

  it('refuses --token on the command line with a sentence, no stack', () => {
    const r = bin('directory', ['--db', join(dir, 'bin.db'), '--port', '0', '--token', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--token puts the directory API token on the command line.*--token-file/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a token file others can read', () => {
    const file = join(dir, 'readable.token');
    writeFileSync(file, 'x\n');
    chmodSync(file, 0o644);
    const r = bin('directory', ['--db', join(dir, 'bin.db'), '--port', '0', '--token-file', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mode 0644.*chmod 600/);
  });

  it('an agent without the shared secret file does not start', () => {
    const r = bin('agent', ['--hypervisor', 'hv1', '--vtep', '10.0.0.1', '--controller', '127.0.0.1:1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no controller↔agent shared secret: pass --secret-file/);
  });

  it('the shipped labs pass no secret on any command line', () => {
    for (const lab of ['default.clab.yml', 'reference-2az.clab.yml']) {
      const text = readFileSync(join(REPO, 'labs', lab), 'utf8');
      expect(text, lab).not.toMatch(/--token\s|--secret\s|TOKEN=/);
      for (const role of ['directory', 'controller', 'agent'])
        expect(text, `${lab} ${role}`).toMatch(new RegExp(`bin/${role}\\.ts[^\\n]*--(token|secret)-file`));
    }
  });
});
