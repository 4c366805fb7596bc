/**
 * The directory (policy plane) process.
 *   node bin/run-ts.js reference-impl/bin/directory.ts --db /var/lib/otf/directory.db --port 8080 --token-file /etc/otf/token
 * Token: --token-file (mode 0600; `--init-secrets` creates it when missing) or DIRECTORY_TOKEN, never
 * the command line. Prints "directory listening on <host>:<port> revision <n>".
 */
import { parseArgs } from 'node:util';
import { DirectoryServer } from '../directory/server.ts';
import { roleSecret } from './secrets.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: './directory.db' },
    host: { type: 'string', default: '0.0.0.0' },
    port: { type: 'string', default: '8080' },
    socket: { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    'init-secrets': { type: 'boolean', default: false },
    asn: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const token = roleSecret('directory', values, 'token', process.env.DIRECTORY_TOKEN);
const log = (line: string) => {
  if (!values.quiet) console.log(`${new Date().toISOString()} ${line}`);
};
const server = new DirectoryServer({
  dbPath: values.db,
  token,
  host: values.host,
  port: Number(values.port),
  ...(values.socket ? { socketPath: values.socket } : {}),
  ...(values.asn ? { asn: Number(values.asn) } : {}),
  log,
});
const address = await server.listen();
console.log(`directory listening on ${address.address}:${address.port} revision ${server.store.revision}`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
