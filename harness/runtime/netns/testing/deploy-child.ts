/**
 * Child process for the crash test: deploys a lab and prints progress; the test SIGKILLs it mid-deploy.
 * Usage: node --import tsx deploy-child.ts <topology file>
 */
import { loadTopology } from '../../../topology/load.ts';
import { NetnsRuntime } from '../index.ts';

const topology = await loadTopology(process.argv[2]!);
await new NetnsRuntime().deploy(topology, {
  maxWorkers: 2,
  onProgress: (message) => console.log(message),
});
console.log('deployed');
