/**
 * Scratch MariaDB servers for tests, the demo and the benchmark: the product's scratch server
 * (src/mysql/scratch-server.ts) in the system's temporary directory.
 */
import { startScratchServer, type ScratchServer, type ScratchServerOptions } from '../src/mysql/scratch-server.js';

export { mariadbVersion } from '../src/mysql/scratch-server.js';
export type MariadbInstance = ScratchServer;

export function startMariadbInstance(options: ScratchServerOptions = {}): Promise<MariadbInstance> {
  return startScratchServer(options);
}
