/**
 * Passwords of the sandbox node, derived from a seed so that a test can build the "same" node
 * twice, or a fresh install whose passwords differ, on purpose.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_CONSTANTS_SEED = 'sandbox-constants';
export const DEFAULT_DEBIAN_CNF_SEED = 'sandbox-debian-cnf';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 20-character alphanumeric password, like the ones ngcp-installer generates. */
export function derivePassword(seed: string, purpose: string, length = 20): string {
  const digest = createHash('sha512').update(`${seed}\0${purpose}`).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += ALPHABET[digest[i % digest.length]! % ALPHABET.length];
  return out;
}

export interface ServiceUserSpec {
  /** Key under credentials.mysql in constants.yml. */
  key: string;
  user: string;
  grants: string[];
}

/** Service users of a CE node, with grants in the shape grants.yml would produce. */
export const SERVICE_USERS: readonly ServiceUserSpec[] = [
  {
    key: 'system',
    user: 'sipwise',
    grants: [
      'ALL PRIVILEGES ON `accounting`.*',
      'ALL PRIVILEGES ON `billing`.*',
      'ALL PRIVILEGES ON `carrier`.*',
      'ALL PRIVILEGES ON `fileshare`.*',
      'ALL PRIVILEGES ON `freeswitch`.*',
      'ALL PRIVILEGES ON `kamailio`.*',
      'ALL PRIVILEGES ON `ldap`.*',
      'ALL PRIVILEGES ON `ngcp`.*',
      'ALL PRIVILEGES ON `prosody`.*',
      'ALL PRIVILEGES ON `provisioning`.*',
      'ALL PRIVILEGES ON `sipstats`.*',
      'ALL PRIVILEGES ON `stats`.*',
      'ALL PRIVILEGES ON `syslog`.*',
      'RELOAD, PROCESS, REPLICATION CLIENT ON *.*',
    ],
  },
  {
    key: 'kamailio',
    user: 'kamailio',
    grants: [
      'SELECT, INSERT, UPDATE, DELETE ON `kamailio`.*',
      'SELECT ON `provisioning`.*',
      'SELECT ON `billing`.*',
    ],
  },
  {
    key: 'soap',
    user: 'soap',
    grants: [
      'SELECT, INSERT, UPDATE, DELETE, EXECUTE ON `provisioning`.*',
      'SELECT, INSERT, UPDATE, DELETE, EXECUTE ON `billing`.*',
      'SELECT, INSERT, UPDATE, DELETE ON `kamailio`.*',
      'SELECT ON `accounting`.*',
    ],
  },
  {
    key: 'exporter',
    user: 'exporter',
    grants: ['SELECT, INSERT, UPDATE ON `accounting`.*', 'SELECT ON `billing`.*', 'SELECT ON `provisioning`.*'],
  },
  {
    key: 'rateomat',
    user: 'rateomat',
    grants: ['SELECT, INSERT, UPDATE, DELETE ON `accounting`.*', 'SELECT, UPDATE ON `billing`.*'],
  },
  {
    key: 'mediator',
    user: 'mediator',
    grants: [
      'SELECT, INSERT, UPDATE, DELETE ON `kamailio`.*',
      'SELECT, INSERT, UPDATE ON `accounting`.*',
      'SELECT ON `provisioning`.*',
    ],
  },
  { key: 'prosody', user: 'prosody', grants: ['ALL PRIVILEGES ON `prosody`.*'] },
  { key: 'collective', user: 'ngcp-collective', grants: ['SELECT ON `stats`.*', 'SELECT, INSERT ON `sipstats`.*'] },
];

export interface ServiceUser {
  key: string;
  user: string;
  password: string;
  grants: string[];
}

export function serviceUsers(constantsSeed: string): ServiceUser[] {
  return SERVICE_USERS.map((spec) => ({
    ...spec,
    password: derivePassword(constantsSeed, `mysql:${spec.key}`),
  }));
}
