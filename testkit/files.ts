/**
 * The file tree of the sandbox node under a root directory: /etc/ngcp-config as a git repository
 * with history, the MySQL credential files, version and role files, TLS material inside and
 * outside /etc/ngcp-config, and the CDR export tree, with the owners and modes of a real node.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { CDR_EXPORT_DIR, renderCdrFile, type CdrExportPlan } from './cdr-files.js';
import type { ServiceUser } from './secrets.js';
import { derivePassword } from './secrets.js';

const execFileAsync = promisify(execFile);

export const CDREXPORT_UID = 1001;

export interface NodeFilesContext {
  root: string;
  ngcpVersion: string;
  nodeName: string;
  socket: string;
  debianCnfPassword: string;
  serviceUsers: ServiceUser[];
  constantsSeed: string;
  cdrPlan: CdrExportPlan;
}

export interface NodeIds {
  mysqlGid: number;
  cdrexportUid: number;
  cdrexportGid: number;
}

/** Node paths of the TLS files config.yml points at (for tests of the certificate discovery). */
export const SSL_FILES = {
  myserverCrt: '/etc/ngcp-config/shared-files/ssl/myserver.crt',
  myserverKey: '/etc/ngcp-config/shared-files/ssl/myserver.key',
  apiCaCrt: '/etc/ngcp-config/shared-files/ssl/api_ca.crt',
  apiCaKey: '/etc/ngcp-config/shared-files/ssl/api_ca.key',
  sipTlsCrt: '/etc/ssl/ngcp/sip-tls.crt',
  sipTlsKey: '/etc/ssl/ngcp/sip-tls.key',
} as const;

async function getent(db: 'passwd' | 'group', key: string): Promise<string[] | undefined> {
  try {
    const { stdout } = await execFileAsync('getent', [db, key]);
    const line = stdout.split('\n')[0];
    return line ? line.split(':') : undefined;
  } catch {
    return undefined;
  }
}

let idsPromise: Promise<NodeIds> | undefined;

/**
 * The ids a real node uses: group mysql, user cdrexport (uid 1001). Created on this machine when
 * missing (we run as root); a concurrent process creating them first is fine.
 */
export function ensureNodeIds(): Promise<NodeIds> {
  idsPromise ??= (async () => {
    let mysql = await getent('group', 'mysql');
    if (!mysql) {
      await execFileAsync('groupadd', ['--system', 'mysql']).catch(() => undefined);
      mysql = await getent('group', 'mysql');
    }
    let cdr = await getent('passwd', 'cdrexport');
    if (!cdr) {
      const uidTaken = await getent('passwd', String(CDREXPORT_UID));
      if (!uidTaken) {
        await execFileAsync('useradd', [
          '--uid', String(CDREXPORT_UID),
          '--user-group',
          '--no-create-home',
          '--home-dir', CDR_EXPORT_DIR,
          '--shell', '/usr/sbin/nologin',
          'cdrexport',
        ]).catch(() => undefined);
        cdr = await getent('passwd', 'cdrexport');
      }
    }
    return {
      mysqlGid: mysql ? Number(mysql[2]) : 0,
      // Without a named user we still use the uid a real node has.
      cdrexportUid: cdr ? Number(cdr[2]) : CDREXPORT_UID,
      cdrexportGid: cdr ? Number(cdr[3]) : CDREXPORT_UID,
    };
  })();
  idsPromise.catch(() => {
    idsPromise = undefined;
  });
  return idsPromise;
}

class Tree {
  constructor(readonly root: string) {}
  abs(nodePath: string): string {
    return path.join(this.root, nodePath);
  }
  async dir(nodePath: string, mode = 0o755, uid = 0, gid = 0): Promise<void> {
    const p = this.abs(nodePath);
    await fs.mkdir(p, { recursive: true });
    await fs.chmod(p, mode);
    await fs.chown(p, uid, gid);
  }
  async file(nodePath: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0): Promise<void> {
    const p = this.abs(nodePath);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, content, { mode });
    await fs.chmod(p, mode); // writeFile's mode is filtered by the umask
    await fs.chown(p, uid, gid);
  }
}

const GIT_DATES = ['2024-03-04T09:12:00Z', '2024-05-02T14:40:00Z', '2024-06-18T08:05:00Z', '2024-06-28T16:30:00Z'];

async function git(cwd: string, args: string[], date?: string): Promise<void> {
  await execFileAsync(
    'git',
    ['-c', 'user.name=ngcpcfg', '-c', 'user.email=root@spce', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=master', ...args],
    {
      cwd,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cwd,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        ...(date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}),
      },
    },
  );
}

async function makeCertificate(cn: string, certPath: string, keyPath: string): Promise<void> {
  try {
    await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', `/CN=${cn}/O=Sandbox NGCP`, '-keyout', keyPath, '-out', certPath,
    ]);
  } catch {
    // No openssl: PEM-looking text is enough for a backup tool, which only copies the files.
    const b64 = Buffer.from(`sandbox certificate for ${cn}`.repeat(12)).toString('base64').replace(/(.{64})/g, '$1\n');
    await fs.writeFile(certPath, `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
    await fs.writeFile(keyPath, `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`);
  }
}

function configYml(ctx: NodeFilesContext, tlsEnabled: boolean): string {
  const config = {
    general: {
      adminmail: 'admin@example.org',
      companyname: 'Sandbox Telecom GmbH',
      lang: 'en',
      production: 'yes',
      timezone: 'Europe/Vienna',
    },
    apache: {
      port: 80,
      sslport: 443,
      sslcertfile: '/etc/ngcp-config/shared-files/ssl/myserver.crt',
      sslcertkeyfile: '/etc/ngcp-config/shared-files/ssl/myserver.key',
      autoprov: { server: { host: 'localhost', port: 1444, ssl_cert_dir: '/etc/ngcp-config/shared-files/ssl' } },
    },
    asterisk: { voicemail: { enable: 'no', max_msg_length: 180, maxmsg: 30 } },
    cdrexport: {
      daily_folder: 'yes',
      monthly_folder: 'yes',
      exportpath: CDR_EXPORT_DIR,
      export_failed: 'no',
      exportfields: [
        'accounting.cdr.id', 'accounting.cdr.update_time', 'accounting.cdr.source_user_id',
        'accounting.cdr.source_provider_id', 'accounting.cdr.source_user', 'accounting.cdr.source_domain',
        'accounting.cdr.source_cli', 'accounting.cdr.destination_user', 'accounting.cdr.destination_domain',
        'accounting.cdr.call_type', 'accounting.cdr.call_status', 'accounting.cdr.call_code',
        'accounting.cdr.init_time', 'accounting.cdr.start_time', 'accounting.cdr.duration',
        'accounting.cdr.call_id', 'accounting.cdr.source_customer_cost',
      ],
      full_names_in_filename: 'no',
      reseller_export: 'yes',
    },
    database: { dbhost: 'localhost', dbport: 3306, bufferpoolsize: '256M' },
    kamailio: {
      lb: {
        port: 5060,
        max_forwards: 70,
        tls: {
          enable: tlsEnabled ? 'yes' : 'no',
          port: 5061,
          sslcertificate: '/etc/ngcp-config/shared-files/ssl/myserver.crt',
          sslcertkeyfile: '/etc/ngcp-config/shared-files/ssl/myserver.key',
        },
      },
      proxy: { port: 5062, children: 8, allow_info_method: 'no', voicemail_number: '2000' },
    },
    websocket: {
      enable: tlsEnabled ? 'yes' : 'no',
      port: 5064,
      tls: {
        sslcertfile: '/etc/ssl/ngcp/sip-tls.crt',
        sslcertkeyfile: '/etc/ssl/ngcp/sip-tls.key',
      },
    },
    ossbss: {
      apache: {
        port: 2443,
        restapi: {
          sslcertfile: '/etc/ngcp-config/shared-files/ssl/myserver.crt',
          sslcertkeyfile: '/etc/ngcp-config/shared-files/ssl/myserver.key',
        },
        proxyluport: 1080,
        serveradmin: 'support@example.org',
      },
      provisioning: { faxpw_min_char: 0, pw_min_char: 6, routing: { ac_regex: '[1-9]\\d{0,4}' } },
    },
    rateomat: { enable: 'yes', loopinterval: 10, splitpeakparts: 0 },
    sems: { sbc: { session_timer: { enable: 'yes', session_expires: 300 } } },
    www_admin: { http_csc: { autoprov_ip: '127.0.0.1' }, apache: { autoprov_port: 1444 } },
  };
  return `# ngcpcfg configuration of node ${ctx.nodeName} (sandbox)\n${YAML.stringify(config)}`;
}

function constantsYml(ctx: NodeFilesContext): string {
  const mysql: Record<string, { u: string; p: string }> = {};
  for (const u of ctx.serviceUsers) mysql[u.key] = { u: u.user, p: u.password };
  const constants = {
    credentials: {
      mysql,
      rabbitmq: { u: 'ngcp', p: derivePassword(ctx.constantsSeed, 'rabbitmq') },
      redis: { p: derivePassword(ctx.constantsSeed, 'redis') },
    },
    ossbss: {
      htpasswd: [{ user: 'ngcpsoap', pass: `{SHA}${Buffer.from(derivePassword(ctx.constantsSeed, 'soap-htpasswd')).toString('base64')}` }],
    },
    www_admin: { admin_password: derivePassword(ctx.constantsSeed, 'www_admin') },
  };
  return `# Generated by ngcp-installer. DO NOT EDIT unless you know what you do.\n${YAML.stringify(constants)}`;
}

function networkYml(ctx: NodeFilesContext): string {
  return YAML.stringify({
    hosts: {
      self: {
        role: ['proxy', 'lb', 'mgmt', 'rtp', 'db', 'storage'],
        interfaces: ['lo', 'eth0'],
        lo: { ip: '127.0.0.1', netmask: '255.0.0.0', type: ['sip_int', 'ha_int', 'aux_ext', 'ssh_ext', 'mon_ext'] },
        eth0: {
          ip: '192.0.2.10',
          netmask: '255.255.255.0',
          gateway: '192.0.2.1',
          type: ['web_ext', 'sip_ext', 'rtp_ext', 'ssh_ext', 'web_int'],
        },
        dbnode: ctx.nodeName,
      },
    },
  });
}

function grantsYml(ctx: NodeFilesContext): string {
  const grants: Record<string, { host: string; credentials: string; grants: string[] }> = {};
  for (const u of ctx.serviceUsers) {
    grants[u.user] = { host: 'localhost', credentials: `credentials.mysql.${u.key}`, grants: u.grants };
  }
  return `# Managed by ngcpcfg (ngcp-sync-db-grants)\n${YAML.stringify({ grants })}`;
}

async function writeNgcpConfig(t: Tree, ctx: NodeFilesContext): Promise<void> {
  const base = '/etc/ngcp-config';
  await t.dir(base, 0o755);
  await t.dir(`${base}/shared-files/ssl`, 0o755);
  const ssl = t.abs(`${base}/shared-files/ssl`);
  await makeCertificate(`${ctx.nodeName}.example.org`, path.join(ssl, 'myserver.crt'), path.join(ssl, 'myserver.key'));
  await makeCertificate('NGCP API CA', path.join(ssl, 'api_ca.crt'), path.join(ssl, 'api_ca.key'));
  for (const [f, mode] of [['myserver.crt', 0o644], ['myserver.key', 0o640], ['api_ca.crt', 0o644], ['api_ca.key', 0o600]] as const) {
    await fs.chmod(path.join(ssl, f), mode);
  }

  await t.file(`${base}/config.yml`, configYml(ctx, false), 0o660);
  await t.file(`${base}/constants.yml`, constantsYml(ctx), 0o600);
  await t.file(`${base}/network.yml`, networkYml(ctx), 0o644);
  await t.file(`${base}/maintenance.yml`, YAML.stringify({ general: { maintenance: 'no' } }), 0o644);
  await t.file(`${base}/config.d/README`, 'Files named *.yml in this directory are merged into config.yml in lexical order.\n');
  await t.file(
    `${base}/config.d/50-cdrexport-local.yml`,
    YAML.stringify({ cdrexport: { export_failed: 'yes' } }),
    0o644,
  );
  await t.file(
    `${base}/templates/etc/kamailio/lb/kamailio.cfg.tt2`,
    '# kamailio LB configuration\nlisten=udp:[% kamailio.lb.host %]:[% kamailio.lb.port %]\n[% IF kamailio.lb.tls.enable == "yes" -%]\nlisten=tls:[% kamailio.lb.host %]:[% kamailio.lb.tls.port %]\n[% END -%]\n',
  );
  await t.file(`${base}/templates/etc/kamailio/lb/kamailio.cfg.services`, '#!/bin/sh\nngcp-service restart kamailio-lb\n', 0o755);
  await t.file(
    `${base}/templates/etc/mysql/my.cnf.tt2`,
    '[mysqld]\ninnodb_buffer_pool_size = [% database.bufferpoolsize %]\nbind-address = 127.0.0.1\n',
  );
  await t.file(`${base}/templates/etc/mysql/my.cnf.services`, '#!/bin/sh\nngcp-service restart mariadb\n', 0o755);
  await t.file(
    `${base}/templates/etc/ngcp-rate-o-mat/ngcp-rate-o-mat.tt2`,
    'RATEOMAT_ACCOUNTING_DB=accounting\nRATEOMAT_BILLING_DB=billing\nRATEOMAT_LOOP_INTERVAL=[% rateomat.loopinterval %]\n',
  );
  await t.file(
    `${base}/.ngcpcfg_perms`,
    ['# mode owner group path, restored by ngcpcfg after a git checkout', '0660 root root config.yml', '0600 root root constants.yml',
      '0640 root root shared-files/ssl/myserver.key', '0600 root root shared-files/ssl/api_ca.key', ''].join('\n'),
    0o644,
  );

  const repo = t.abs(base);
  await git(repo, ['init', '--quiet']);
  await git(repo, ['add', '-A']);
  await git(repo, ['commit', '--quiet', '-m', 'initial import by ngcp-installer'], GIT_DATES[0]);

  await t.file(`${base}/config.yml`, configYml(ctx, true), 0o660);
  await git(repo, ['commit', '--quiet', '-a', '-m', 'enable SIP over TLS and websockets'], GIT_DATES[1]);

  await t.file(
    `${base}/templates/etc/kamailio/lb/kamailio.cfg.customtt.tt2`,
    '# local customisation: replaces kamailio.cfg.tt2 entirely\nlisten=udp:[% kamailio.lb.host %]:[% kamailio.lb.port %]\nmax_while_loops=500\n',
  );
  await t.file(
    `${base}/templates/etc/kamailio/proxy/kamailio.cfg.patchtt.tt2`,
    '--- kamailio.cfg.tt2\n+++ kamailio.cfg.tt2\n@@ -1,1 +1,2 @@\n # kamailio proxy\n+modparam("tm", "fr_timer", 12000)\n',
  );
  await git(repo, ['add', '-A']);
  await git(repo, ['commit', '--quiet', '-m', "custom kamailio templates (ticket #4711: O'Brien's PBX)"], GIT_DATES[2]);

  await t.file(`${base}/network.yml`, networkYml(ctx).replace('192.0.2.1\n', '192.0.2.254\n'), 0o644);
  await git(repo, ['commit', '--quiet', '-a', '-m', 'new default gateway'], GIT_DATES[3]);
}

async function writeEtc(t: Tree, ctx: NodeFilesContext, ids: NodeIds): Promise<void> {
  const sipwise = ctx.serviceUsers.find((u) => u.user === 'sipwise');
  await t.dir('/etc/mysql', 0o755);
  await t.file(
    '/etc/mysql/debian.cnf',
    `# Automatically generated for Debian scripts. DO NOT TOUCH!\n[client]\nhost     = localhost\nuser     = debian-sys-maint\npassword = ${ctx.debianCnfPassword}\nsocket   = ${ctx.socket}\n[mysql_upgrade]\nhost     = localhost\nuser     = debian-sys-maint\npassword = ${ctx.debianCnfPassword}\nsocket   = ${ctx.socket}\nbasedir  = /usr\n`,
    0o440,
    0,
    ids.mysqlGid,
  );
  if (sipwise) {
    await t.file('/etc/mysql/sipwise.cnf', `SIPWISE_DB_PASSWORD='${sipwise.password}'\n`, 0o400);
    await t.file('/etc/mysql/sipwise_extra.cnf', `[client]\nuser = sipwise\npassword = ${sipwise.password}\n`, 0o400);
  }
  await t.file('/etc/mysql/grants.yml', grantsYml(ctx), 0o400);
  await t.file('/etc/ngcp_version', `${ctx.ngcpVersion}\n`, 0o644);
  await t.file('/etc/ngcp_nodename', `${ctx.nodeName}\n`, 0o644);
  await t.file(
    '/etc/default/ngcp-roles',
    [
      `NODENAME="${ctx.nodeName}"`, 'NGCP_TYPE="spce"', 'NGCP_IS_CARRIER="no"', 'NGCP_IS_PRO="no"', 'NGCP_IS_CE="yes"',
      'NGCP_IS_MGMT="yes"', 'NGCP_IS_DB="yes"', 'NGCP_IS_LB="yes"', 'NGCP_IS_PROXY="yes"', 'NGCP_IS_RTP="yes"',
      'NGCP_IS_STORAGE="yes"', 'NGCP_IS_SINGLE_NODE="yes"', '',
    ].join('\n'),
    0o644,
  );
  await t.file(
    '/etc/default/ngcp-db',
    ['# generated by ngcpcfg', 'DBHOST="localhost"', 'DBPORT="3306"', `DBSOCKET="${ctx.socket}"`, 'PAIR_DBHOST="localhost"',
      'CENTRAL_DBHOST="localhost"', 'LOCAL_DBHOST="localhost"', ''].join('\n'),
    0o644,
  );
  await t.dir('/etc/ssl/ngcp', 0o755);
  await makeCertificate(`sip.${ctx.nodeName}.example.org`, t.abs(SSL_FILES.sipTlsCrt), t.abs(SSL_FILES.sipTlsKey));
  await fs.chmod(t.abs(SSL_FILES.sipTlsCrt), 0o644);
  await fs.chmod(t.abs(SSL_FILES.sipTlsKey), 0o600);
}

async function writeCdrExport(t: Tree, ctx: NodeFilesContext, ids: NodeIds): Promise<void> {
  const { cdrexportUid: uid, cdrexportGid: gid } = ids;
  await t.dir('/home/jail', 0o755);
  await t.dir('/home/jail/home', 0o755);
  await t.dir(CDR_EXPORT_DIR, 0o755, uid, gid);
  const made = new Set<string>();
  for (const file of ctx.cdrPlan.files) {
    // Create (and chown) every directory level below the export dir, once.
    const parts = path.posix.dirname(file.relPath).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = `${CDR_EXPORT_DIR}/${parts.slice(0, i).join('/')}`;
      if (made.has(d)) continue;
      made.add(d);
      await t.dir(d, 0o755, uid, gid);
    }
    await t.file(`${CDR_EXPORT_DIR}/${file.relPath}`, renderCdrFile(file), 0o644, uid, gid);
  }
}

/** Writes the node's files under ctx.root. */
export async function writeNodeFiles(ctx: NodeFilesContext): Promise<void> {
  const ids = await ensureNodeIds();
  const t = new Tree(ctx.root);
  await fs.mkdir(ctx.root, { recursive: true });
  await t.dir('/etc', 0o755);
  await Promise.all([writeNgcpConfig(t, ctx), writeEtc(t, ctx, ids), writeCdrExport(t, ctx, ids)]);
}
