/**
 * Row generation for the sandbox node, entirely server-side: every bulk table is filled with
 * `INSERT ... SELECT ... FROM seq_1_to_N` (MariaDB's Sequence engine), with pseudo-random but
 * deterministic values derived from the sequence number, so that 2M CDRs take seconds and two
 * sandboxes built from the same options hold the same rows.
 */
import type { Connection } from 'mysql2/promise';
import { escape } from 'mysql2/promise';
import { ARCHIVE_TABLE, CDR_EPOCH, CDR_SPAN_SECONDS } from './schema.js';

export interface SandboxScale {
  cdr: number;
  archive: number;
  cashBalance: number;
  tagData: number;
  acc: number;
  accBackup: number;
  accTrash: number;
  subscribers: number;
  contracts: number;
  location: number;
  voicemail: number;
  journals: number;
  faxes: number;
  syslogPerTable: number;
  packets: number;
  messages: number;
  callStats: number;
  qosSamples: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(v)));

/** Row counts of every generated table, as fractions of cdrRows with small minimums. */
export function sandboxScale(cdrRows: number): SandboxScale {
  const cdr = Math.max(5, Math.floor(cdrRows));
  const subscribers = clamp(cdr / 400, 10, 5000);
  return {
    cdr,
    archive: Math.max(5, Math.floor(cdr / 10)),
    cashBalance: Math.max(5, Math.floor(cdr / 10)),
    tagData: Math.max(3, Math.floor(cdr / 20)),
    acc: Math.max(5, Math.floor(cdr / 20)),
    accBackup: Math.max(5, Math.floor(cdr / 10)),
    accTrash: Math.max(5, Math.floor(cdr / 50)),
    subscribers,
    contracts: Math.max(5, Math.ceil(subscribers / 2)),
    location: Math.max(3, Math.floor(subscribers / 2)),
    voicemail: clamp(cdr / 2000, 8, 300),
    journals: Math.max(5, Math.floor(cdr / 100)),
    faxes: clamp(subscribers / 20, 3, 100),
    syslogPerTable: Math.max(3, Math.floor(cdr / 60)),
    packets: Math.max(5, Math.floor(cdr / 50)),
    messages: Math.max(20, Math.floor(cdr / 50)),
    callStats: Math.max(10, Math.floor(cdr / 200)),
    qosSamples: Math.max(10, Math.floor(cdr / 100)),
  };
}

/** Strings that break naive dumpers: quotes, backslashes, control characters, NUL, non-ASCII. */
export const TRICKY_STRINGS: readonly string[] = [
  "O'Brien",
  'C:\\Program Files\\ngcp\\',
  'line one\nline two',
  'tab\tseparated\tvalue',
  'nul\0byte',
  'Zürich Hauptbahnhof',
  'Straße nach München',
  '"double quoted"',
  "semi;colon,comma 'single'",
  '',
  'NULL',
  '\\N',
  'crlf\r\nend',
  '日本語テキスト',
  'trailing backslash\\',
  'emoji 😀 party 🎉',
  'mixed \'"\\\n\t\0 all',
  '\u00a0non-breaking space',
];

function isBmp(s: string): boolean {
  for (const ch of s) if (ch.codePointAt(0)! > 0xffff) return false;
  return true;
}

/** SQL expression picking one of `values` by `indexExpr` (0-based, any integer). */
export function pick(indexExpr: string, values: readonly string[]): string {
  return `ELT(1 + (${indexExpr}) MOD ${values.length}, ${values.map((v) => escape(v)).join(', ')})`;
}

export const trickyMb4 = (indexExpr: string): string => pick(indexExpr, TRICKY_STRINGS);
export const trickyMb3 = (indexExpr: string): string => pick(indexExpr, TRICKY_STRINGS.filter(isBmp));

export const DOMAINS = ['voip.example.org', 'sip.example.net', 'pbx.example.com'] as const;
export const RESELLERS = [
  { id: 1, name: 'default' },
  { id: 2, name: 'acme_telecom' },
  { id: 3, name: 'voip-partner' },
] as const;

/** UUID-shaped text from an MD5, so subscriber ids agree between tables. */
export function uuidExpr(keyExpr: string): string {
  return `INSERT(INSERT(INSERT(INSERT(MD5(CONCAT('sub-', ${keyExpr})),9,0,'-'),14,0,'-'),19,0,'-'),24,0,'-')`;
}
export const subscriberUser = (su: string): string => `CONCAT('4312', LPAD(${su}, 6, '0'))`;
export const subscriberDomain = (su: string): string => pick(su, DOMAINS);

/**
 * Binary data of `lenExpr` bytes derived from `seedExpr`: SHA-512 blocks glued by GROUP_CONCAT in
 * a correlated subquery over another sequence (RANDOM_BYTES is capped at 1024 bytes). Inside the
 * subquery a bare `seq` means k.seq: the caller must alias its outer sequence (`s`) and use s.seq.
 */
function binaryExpr(seedExpr: string, lenExpr: string, maxBytes: number): string {
  const blocks = Math.ceil(maxBytes / 64);
  return `(SELECT SUBSTRING(GROUP_CONCAT(UNHEX(SHA2(CONCAT(${seedExpr}, '/', k.seq), 512)) ORDER BY k.seq SEPARATOR ''), 1, ${lenExpr})
     FROM seq_1_to_${blocks} k WHERE k.seq <= CEIL((${lenExpr}) / 64))`;
}

function accSql(table: string, rows: number, idOffset: number, epoch: number): string {
  return `INSERT INTO kamailio.\`${table}\` (id, method, from_tag, to_tag, callid, sip_code, sip_reason, time, time_hires,
    src_leg, dst_leg, dst_user, dst_ouser, dst_domain, src_user, src_domain)
SELECT ${idOffset} + seq,
  ${pick('CRC32(seq) MOD 5', ['INVITE', 'BYE', 'INVITE', 'INVITE', 'MESSAGE'])},
  LPAD(HEX(CRC32(seq)), 8, '0'), LPAD(HEX(CRC32(seq + 5)), 8, '0'),
  CONCAT(LPAD(HEX(CRC32(seq + 11)), 8, '0'), '-', seq, '@sbc.example.org'),
  ${pick('CRC32(seq + 13) MOD 9', ['200', '200', '200', '200', '486', '487', '480', '404', '503'])},
  IF(CRC32(seq) MOD 6 = 0, ${trickyMb4('seq')}, 'OK'),
  FROM_UNIXTIME(${epoch} + seq * 37),
  ${epoch} + seq * 37 + (CRC32(seq + 17) MOD 1000) / 1000,
  IF(CRC32(seq + 19) MOD 10 = 0, NULL, CONCAT_WS('|', ${subscriberUser('seq MOD 1000')}, 'voip.example.org', ${trickyMb4('seq DIV 3')})),
  IF(CRC32(seq + 23) MOD 10 = 0, NULL, CONCAT('49151', LPAD(CRC32(seq + 29) MOD 10000000, 7, '0'), '|peer|', ${trickyMb4('seq DIV 5')})),
  CONCAT('49151', LPAD(CRC32(seq + 29) MOD 10000000, 7, '0')),
  CONCAT('0151', LPAD(CRC32(seq + 29) MOD 10000000, 7, '0')),
  ${pick('seq', ['peer0.carrier.example', 'Zürich.example', 'peer1.carrier.example'])},
  ${subscriberUser('seq MOD 1000')},
  ${pick('seq', DOMAINS)}
FROM seq_1_to_${rows}`;
}

export interface DataContext {
  scale: SandboxScale;
  ngcpVersion: string;
  nodeName: string;
  /** accounting.mark rows (collector, acc_id) consistent with the CDR export files. */
  marks: ReadonlyArray<readonly [string, number]>;
  /** Seed for subscriber passwords. */
  seed: string;
}

export type Task = { name: string; run: (conn: Connection) => Promise<void> };

async function all(conn: Connection, statements: string[]): Promise<void> {
  for (const sql of statements) await conn.query(sql);
}

/** Independent data tasks (all but the CDRs), safe to run on parallel connections in any order. */
export function dataTasks(ctx: DataContext): Task[] {
  const sc = ctx.scale;
  const tasks: Task[] = [];
  tasks.push({
    name: 'kamailio.acc*',
    run: (c) =>
      all(c, [
        accSql('acc_trash', sc.accTrash, 0, CDR_EPOCH),
        accSql('acc_backup', sc.accBackup, sc.accTrash, CDR_EPOCH),
        accSql('acc', sc.acc, sc.accTrash + sc.accBackup, CDR_EPOCH + CDR_SPAN_SECONDS - sc.acc * 37 - 60),
      ]),
  });
  tasks.push({ name: 'billing+provisioning', run: (c) => all(c, billingAndProvisioningSql(ctx)) });
  tasks.push({ name: 'kamailio misc', run: (c) => all(c, kamailioMiscSql(ctx)) });
  tasks.push({ name: 'syslog', run: (c) => all(c, syslogSql(sc)) });
  tasks.push({ name: 'sipstats', run: (c) => all(c, sipstatsSql(sc)) });
  tasks.push({ name: 'stats', run: (c) => all(c, statsSql(sc)) });
  tasks.push({ name: 'small databases', run: (c) => all(c, smallDatabasesSql(ctx)) });
  return tasks;
}

/** Tasks that need accounting.cdr to be complete. */
export function dataAfterCdrTasks(ctx: DataContext): Task[] {
  const sc = ctx.scale;
  return [
    {
      name: 'accounting side tables',
      run: (c) =>
        all(c, [
          // Half the rows fall into the archive month, half into the live months: several partitions.
          `INSERT INTO accounting.cdr_cash_balance_data
             (cdr_id, cdr_start_time, provider_id, direction_id, cash_balance_id, val_before, val_after)
           SELECT id, start_time, 1 + id MOD 3, 1 + id MOD 2, 1 + id MOD 5,
                  source_customer_cost * 10, source_customer_cost * 9
             FROM accounting.\`${ARCHIVE_TABLE}\` WHERE id <= ${Math.ceil(sc.cashBalance / 2)}`,
          `INSERT INTO accounting.cdr_cash_balance_data
             (cdr_id, cdr_start_time, provider_id, direction_id, cash_balance_id, val_before, val_after)
           SELECT id, start_time, 1 + id MOD 3, 1 + id MOD 2, 1 + id MOD 5,
                  source_customer_cost * 10, NULL
             FROM accounting.cdr WHERE id MOD ${Math.max(1, Math.floor(sc.cdr / Math.max(1, Math.floor(sc.cashBalance / 2))))} = 0
            LIMIT ${Math.floor(sc.cashBalance / 2)}`,
          `INSERT INTO accounting.cdr_tag (id, type) VALUES
             (1, 'calling_party_category'), (2, 'furnished_charging_info'), (3, 'header=P-Asserted-Identity')`,
          `INSERT INTO accounting.cdr_tag_data (cdr_id, tag_id, val, cdr_start_time)
           SELECT id, 1 + id MOD 3, CONCAT('tag-', id, IF(id MOD 7 = 0, ' Zürich ''q''', '')), start_time
             FROM accounting.cdr WHERE id MOD 20 = 7 LIMIT ${sc.tagData}`,
          `INSERT INTO accounting.mark (collector, acc_id) VALUES ${ctx.marks
            .map(([collector, seq]) => `(${escape(collector)}, ${seq})`)
            .join(', ')}`,
        ]),
    },
  ];
}

function billingAndProvisioningSql(ctx: DataContext): string[] {
  const sc = ctx.scale;
  const contracts = sc.contracts + RESELLERS.length;
  const s: string[] = [];
  s.push(
    `INSERT INTO billing.contacts (id, reseller_id, gender, firstname, lastname, company, street, postcode, city, country,
       phonenumber, email, create_timestamp, modify_timestamp)
     SELECT seq, IF(seq <= ${RESELLERS.length}, NULL, 1 + seq MOD ${RESELLERS.length}),
       IF(seq MOD 5 = 0, NULL, ${pick('seq', ['male', 'female'])}),
       ${pick('seq', ['Anna', 'Jürgen', 'Seán', 'Zoë', "D'Arcy", 'Li'])},
       ${pick('seq DIV 3', ['Müller', "O'Connor", 'Smith', 'Nguyễn', 'García', 'Weiß'])},
       IF(seq <= ${RESELLERS.length}, ${pick('seq - 1', RESELLERS.map((r) => r.name))}, IF(seq MOD 4 = 0, NULL, CONCAT('Firma ', seq, ' GmbH'))),
       CONCAT('Hauptstraße ', seq), LPAD(1000 + seq MOD 9000, 4, '0'),
       ${pick('seq', ['Wien', 'Zürich', 'Graz', 'Köln'])}, ${pick('seq', ['AT', 'CH', 'AT', 'DE'])},
       CONCAT('+43', 1000000 + seq), CONCAT('contact', seq, '@example.org'),
       FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 200 + seq * 60),
       IF(seq MOD 5 = 0, '0000-00-00 00:00:00', FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 100 + seq * 60))
     FROM seq_1_to_${contracts}`,
    `INSERT INTO billing.contracts (id, customer_id, contact_id, status, external_id, vat_rate, add_vat,
       create_timestamp, modify_timestamp, activate_timestamp, terminate_timestamp)
     SELECT seq, IF(seq <= ${RESELLERS.length}, NULL, seq), seq,
       IF(seq MOD 17 = 0, 'terminated', IF(seq MOD 11 = 0, 'locked', 'active')),
       IF(seq MOD 10 = 0, NULL, CONCAT('C', 100000 + seq - 4)), 20, seq MOD 2,
       FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 200 + seq * 60),
       IF(seq MOD 3 = 0, '0000-00-00 00:00:00', FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 50 + seq * 60)),
       FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 199 + seq * 60),
       IF(seq MOD 17 = 0, FROM_UNIXTIME(${CDR_EPOCH} + seq * 60), NULL)
     FROM seq_1_to_${contracts}`,
    `INSERT INTO billing.resellers (id, contract_id, name, status) VALUES ${RESELLERS.map(
      (r) => `(${r.id}, ${r.id}, ${escape(r.name)}, 'active')`,
    ).join(', ')}`,
    `INSERT INTO billing.billing_profiles (id, reseller_id, handle, name, prepaid, interval_charge, interval_free_time, currency) VALUES
       (1, 1, 'default', 'Default Billing Profile', 0, 0, 0, 'EUR'),
       (2, 2, 'acme_flat', 'ACME Flat', 0, 19.9, 3600, 'EUR'),
       (3, 3, 'partner_prepaid', 'Prepaid € 0.1', 1, 0.1, 0, 'CHF')`,
    `INSERT INTO billing.billing_mappings (start_date, end_date, billing_profile_id, contract_id)
     SELECT IF(seq MOD 4 = 0, FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 30), NULL), NULL, 1 + seq MOD 3, seq
     FROM seq_1_to_${contracts}`,
    `INSERT INTO billing.contract_balances (contract_id, cash_balance, cash_balance_interval, free_time_balance, start, end)
     SELECT 1 + (seq - 1) DIV 2, (CRC32(seq) MOD 100000000) / 1000000, (CRC32(seq + 1) MOD 1000000) / 1000000,
       CRC32(seq + 2) MOD 3600,
       IF(seq MOD 2 = 1, '2024-05-01 00:00:00', '2024-06-01 00:00:00'),
       IF(seq MOD 2 = 1, '2024-05-31 23:59:59', '2024-06-30 23:59:59')
     FROM seq_1_to_${contracts * 2}`,
    `INSERT INTO billing.journals (operation, resource_name, resource_id, timestamp, username, content_format, content)
     SELECT ${pick('seq', ['create', 'update', 'update', 'delete'])},
       ${pick('seq DIV 4', ['contracts', 'customers', 'subscribers', 'billingprofiles'])},
       1 + seq MOD ${contracts}, ${CDR_EPOCH} + seq * 61 + (seq MOD 1000) / 1000,
       IF(seq MOD 9 = 0, NULL, ${pick('seq', ['administrator', 'reseller', 'Jürgen'])}),
       IF(seq MOD 3 = 0, 'storable', 'json'),
       IF(seq MOD 3 = 0, ${binaryExpr("CONCAT('journal-', s.seq)", '200 + CRC32(s.seq) MOD 3000', 3200)},
          IF(seq MOD 11 = 1, NULL, CONCAT('{"id":', seq, ',"status":"active","note":', ${pick('seq', [
            '"plain"',
            '"with \\"quotes\\""',
            '"Zürich"',
            '"back\\\\slash"',
          ])}, '}')))
     FROM seq_1_to_${sc.journals} s`,
  );
  // provisioning: triggers copy domains, subscribers and preferences into kamailio.*
  s.push(
    `INSERT INTO provisioning.voip_domains (id, domain) VALUES ${DOMAINS.map((d, i) => `(${i + 1}, ${escape(d)})`).join(', ')}`,
    `INSERT INTO provisioning.voip_subscribers (id, username, domain_id, uuid, password, webusername, webpassword,
       admin, account_id, is_pbx_group, create_timestamp, modify_timestamp)
     SELECT seq, ${subscriberUser('seq - 1')}, 1 + (seq - 1) MOD 3, ${uuidExpr('seq - 1')},
       LEFT(SHA2(CONCAT(${escape(ctx.seed)}, ':sub:', seq), 256), 16),
       IF(seq MOD 4 = 0, NULL, CONCAT('web', seq)),
       CONCAT('$2a$13$', LEFT(TO_BASE64(UNHEX(SHA2(CONCAT('pw', seq), 256))), 53)),
       IF(seq MOD 50 = 1, 1, 0), 4 + (seq - 1) DIV 2, IF(seq MOD 40 = 0, 1, 0),
       FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 150 + seq * 60),
       IF(seq MOD 6 = 0, '0000-00-00 00:00:00', FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 10 + seq * 60))
     FROM seq_1_to_${sc.subscribers}`,
    `INSERT INTO provisioning.voip_preferences (id, attribute, label, type, max_occur, usr_pref, dom_pref, data_type, description)
     VALUES ${PREFERENCES.map(
       ([attr, type], i) =>
         `(${i + 1}, ${escape(attr)}, ${escape(attr.replace(/_/g, ' '))}, ${type === 'int' || type === 'boolean' ? 1 : 0}, ${attr.startsWith('allowed') ? 0 : 1}, 1, ${i % 2}, ${escape(type)}, ${escape(`Preference "${attr}" — see handbook`)})`,
     ).join(', ')}`,
    `INSERT INTO provisioning.voip_usr_preferences (subscriber_id, attribute_id, value)
     SELECT 1 + (seq - 1) DIV 2, 1 + (CRC32(seq) MOD ${PREFERENCES.length}), IF(seq MOD 2 = 0, CAST(seq MOD 2 AS CHAR), CONCAT('val-', seq))
     FROM seq_1_to_${sc.subscribers * 2}`,
    `INSERT INTO provisioning.voip_fax_data (subscriber_id, direction, filename, mime_type, pages, data)
     SELECT 1 + seq MOD ${sc.subscribers}, IF(seq MOD 2 = 0, 'in', 'out'), CONCAT('fax_', seq, IF(seq MOD 3 = 0, '_Zürich', ''), '.tif'),
       'image/tiff', 1 + seq MOD 5,
       IF(seq = 1, '', ${binaryExpr("CONCAT('fax-', s.seq)", '2000 + CRC32(s.seq) MOD 60000', 62000)})
     FROM seq_1_to_${sc.faxes} s`,
    `INSERT INTO provisioning.autoprov_devices (id, reseller_id, vendor, model) VALUES
       (1, 1, 'Cisco', 'SPA504G'), (2, 1, 'Panasonic', 'KX-UT670'), (3, 2, 'Yealink', 'T46S')`,
    `INSERT INTO provisioning.autoprov_firmwares (id, device_id, version, filename) VALUES
       (1, 1, '7.6.2', 'spa50x-30x-7-6-2.bin'), (2, 2, '01.133', 'KX-UT670_01.133.fw'), (3, 3, '66.86.0.15', NULL)`,
    `INSERT INTO provisioning.autoprov_firmwares_data (id, fw_id, data)
     SELECT seq, seq, ${binaryExpr("CONCAT('firmware-', s.seq)", 'ELT(s.seq, 100000, 700000, 1500000)', 1500000)}
     FROM seq_1_to_3 s`,
  );
  return s;
}

const PREFERENCES: ReadonlyArray<readonly [string, string]> = [
  ['cli', 'string'],
  ['clir', 'boolean'],
  ['cc', 'string'],
  ['ac', 'string'],
  ['block_in_mode', 'boolean'],
  ['block_out_mode', 'boolean'],
  ['allowed_clis', 'string'],
  ['concurrent_max', 'int'],
  ['concurrent_max_out', 'int'],
  ['ncos', 'string'],
  ['lock', 'enum'],
  ['emergency_suffix', 'string'],
  ['allowed_ips', 'string'],
  ['language', 'enum'],
  ['ringtimeout', 'int'],
  ['peer_auth_user', 'string'],
  ['peer_auth_pass', 'string'],
  ['record_call', 'boolean'],
  ['music_on_hold', 'boolean'],
  ['dialplan_rules', 'blob'],
];

function kamailioMiscSql(ctx: DataContext): string[] {
  const sc = ctx.scale;
  return [
    `INSERT INTO kamailio.location (ruid, username, domain, contact, received, path, expires, q, callid, cseq,
       last_modified, flags, cflags, user_agent, socket, methods, instance, reg_id)
     SELECT CONCAT('uloc-', LPAD(HEX(CRC32(seq)), 8, '0'), '-', seq), ${subscriberUser('seq - 1')}, ${subscriberDomain('seq - 1')},
       CONCAT('sip:', ${subscriberUser('seq - 1')}, '@10.15.', seq MOD 250, '.', 1 + seq MOD 200, ':5060;transport=udp'),
       IF(seq MOD 3 = 0, NULL, CONCAT('sip:198.51.100.', seq MOD 250, ':', 1024 + CRC32(seq) MOD 60000)),
       IF(seq MOD 2 = 0, NULL, '<sip:lb@127.0.0.1:5060;lr;received=sip:198.51.100.7:5060>'),
       FROM_UNIXTIME(${CDR_EPOCH + CDR_SPAN_SECONDS} + seq * 30), IF(seq MOD 4 = 0, 0.5, 1.0),
       CONCAT(MD5(seq), '@10.15.0.1'), 1 + seq MOD 9999, FROM_UNIXTIME(${CDR_EPOCH + CDR_SPAN_SECONDS} - 3600 + seq),
       0, 64, ${pick('seq', ['Yealink SIP-T46S 66.86.0.15', 'Linphone/5.2 (belle-sip/5.2)', 'Zoiper rv2.10 „beta“'])},
       'udp:10.15.0.1:5060', 8191, IF(seq MOD 5 = 0, CONCAT('<urn:uuid:', ${uuidExpr('seq + 100000')}, '>'), NULL), IF(seq MOD 5 = 0, 1, 0)
     FROM seq_1_to_${sc.location}`,
    `INSERT INTO kamailio.voicemail_spool (msgnum, dir, context, macrocontext, callerid, origtime, duration,
       mailboxuser, mailboxcontext, recording, flag, msg_id, call_id)
     SELECT seq MOD 10, CONCAT('/var/spool/asterisk/voicemail/default/', ${uuidExpr('seq MOD 50')}, '/INBOX'),
       'default', '', CONCAT('"', ${pick('seq', ['Jürgen Weiß', "O'Brien", 'Anna'])}, '" <4312', LPAD(seq, 6, '0'), '>'),
       CAST(${CDR_EPOCH} + seq * 3600 AS CHAR), CAST(seq MOD 120 AS CHAR), ${uuidExpr('seq MOD 50')}, 'default',
       CASE WHEN seq = 1 THEN NULL WHEN seq = 2 THEN ''
            WHEN seq <= 5 THEN ${binaryExpr("CONCAT('vm-', s.seq)", '65536 + s.seq * 20000', 65536 + 5 * 20000)}
            WHEN seq MOD 10 = 0 THEN NULL
            ELSE ${binaryExpr("CONCAT('vm-', s.seq)", '512 + CRC32(s.seq) MOD 40000', 40512)} END,
       IF(seq MOD 3 = 0, 'Urgent', ''), CONCAT(${CDR_EPOCH} + seq * 3600, '-', LPAD(HEX(CRC32(seq)), 8, '0')),
       CONCAT(MD5(seq), '@sbc.example.org')
     FROM seq_1_to_${sc.voicemail} s`,
    `INSERT INTO kamailio.version (table_name, table_version) VALUES
       ('acc', 5), ('acc_backup', 5), ('acc_trash', 5), ('domain', 2), ('location', 9), ('subscriber', 7),
       ('usr_preferences', 2), ('version', 1), ('voicemail_spool', 1)`,
  ];
}

function syslogSql(sc: SandboxScale): string[] {
  const s: string[] = [];
  const n = sc.syslogPerTable;
  ['se1', 'se2', 'se3'].forEach((t, i) => {
    s.push(`INSERT INTO syslog.${t} (ID, CustomerID, ReceivedAt, DeviceReportedTime, Facility, Priority, FromHost, Message,
        NTSeverity, Importance, EventSource, EventUser, EventCategory, EventID, EventBinaryData, MaxAvailable, CurrUsage,
        MinUsage, MaxUsage, InfoUnitID, SysLogTag, EventLogType, GenericFileName, SystemID)
      SELECT ${i * n} + seq, NULL, FROM_UNIXTIME(${CDR_EPOCH} + (${i * n} + seq) * 20), FROM_UNIXTIME(${CDR_EPOCH} + (${i * n} + seq) * 20 - 1),
        16 + seq MOD 8, seq MOD 8, ${pick('seq', ['sp1', 'sp2', 'spce'])},
        CONCAT(${pick('seq DIV 2', [
          ' NOTICE: <script>: ACC: call start',
          ' ERROR: tm [t_fwd.c:1555]: t_forward_nonack(): failure to add branches',
          ' WARNING: db_mysql: reconnect',
          ' INFO: <core> [main.c:2900]: main(): ',
        ])}, ' ', ${trickyMb3('seq')}),
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1,
        ${pick('seq', ['kamailio[1234]:', 'sems[77]:', 'ngcp-rate-o-mat[42]:', 'CRON[9]:'])}, NULL, NULL, NULL
      FROM seq_1_to_${n}`);
  });
  return s;
}

function sipstatsSql(sc: SandboxScale): string[] {
  const crlf = "CHAR(13, 10)";
  const keep = Math.floor(sc.messages * 0.45);
  return [
    `INSERT INTO sipstats.packets (id, timestamp, src_mac, dst_mac, protocol, src_ip, dst_ip, src_port, dst_port, header,
       payload, trailer, method, cseq_method, call_id, request_uri, from_uri, caller_uuid, callee_uuid, was_fragmented)
     SELECT seq, ${CDR_EPOCH} + seq * 3 + (CRC32(seq) MOD 1000000) / 1000000,
       UNHEX(LPAD(HEX(CRC32(seq)), 12, '0')), UNHEX(CONCAT('0050', LPAD(HEX(CRC32(seq + 1)), 8, '0'))),
       IF(seq MOD 20 = 0, 'IPv6', 'IPv4'),
       IF(seq MOD 20 = 0, '2001:db8::1', CONCAT('10.15.', seq MOD 250, '.', 1 + seq MOD 200)),
       IF(seq MOD 20 = 0, '2001:db8::2', '10.15.0.1'), 5060, 5060 + seq MOD 2,
       UNHEX(CONCAT('4500', LPAD(HEX(CRC32(seq + 2)), 8, '0'), '0000')),
       CONCAT(${pick('seq', ['INVITE', 'BYE', 'ACK', 'SIP/2.0 200'])}, ' sip:4312', LPAD(seq MOD 1000, 6, '0'), '@voip.example.org SIP/2.0', ${crlf},
              'Via: SIP/2.0/UDP 10.15.0.1:5060;branch=z9hG4bK', HEX(CRC32(seq)), ${crlf},
              'From: "', ${pick('seq', ['Jürgen', "O'Brien", 'Anna'])}, '" <sip:4312', LPAD(seq MOD 1000, 6, '0'), '@voip.example.org>;tag=', HEX(CRC32(seq + 3)), ${crlf},
              'Call-ID: ', MD5(seq DIV 4), '@10.15.0.1', ${crlf}, 'Content-Length: 0', ${crlf}, ${crlf}),
       '', ${pick('seq', ['INVITE', 'BYE', 'ACK', '200'])}, ${pick('seq', ['INVITE', 'BYE', 'ACK', 'INVITE'])},
       CONCAT(MD5(seq DIV 4), '@10.15.0.1'), CONCAT('sip:4312', LPAD(seq MOD 1000, 6, '0'), '@voip.example.org'),
       CONCAT('sip:4312', LPAD((seq + 7) MOD 1000, 6, '0'), '@voip.example.org'), ${uuidExpr('seq MOD 1000')}, '0', seq MOD 50 = 0
     FROM seq_1_to_${sc.packets}`,
    `INSERT INTO sipstats.messages (id, timestamp, src_ip, dst_ip, method, call_id, sip_code)
     SELECT seq, ${CDR_EPOCH} + seq * 3 + (seq MOD 1000) / 1000, CONCAT('10.15.0.', seq MOD 250), '10.15.0.1',
       ${pick('seq', ['INVITE', 'BYE', 'ACK', 'OPTIONS'])}, CONCAT(MD5(seq DIV 4), '@10.15.0.1'),
       IF(seq MOD 4 = 2, NULL, ${pick('seq', ['100', '180', '200', '486'])})
     FROM seq_1_to_${sc.messages}`,
    // A gap in the ids and an AUTO_INCREMENT well past the last row, as after a purge.
    `DELETE FROM sipstats.messages WHERE id > ${keep} AND id <= ${keep + Math.floor(sc.messages / 10)}`,
    `ALTER TABLE sipstats.messages AUTO_INCREMENT = ${sc.messages + 1000}`,
  ];
}

function statsSql(sc: SandboxScale): string[] {
  return [
    `INSERT INTO stats.call_stats_5min (node, period_start, calls, answered, duration)
     SELECT IF(seq MOD 2 = 0, 'sp1', 'sp2'), FROM_UNIXTIME(${CDR_EPOCH} + ((seq - 1) DIV 2) * 300),
       CRC32(seq) MOD 200, (CRC32(seq) MOD 200) * (50 + CRC32(seq + 1) MOD 50) DIV 100, (CRC32(seq + 2) MOD 10000000) / 1000
     FROM seq_1_to_${sc.callStats}`,
    `INSERT INTO stats.qos_samples (sampled_at, call_id, mos, jitter_ms, packet_loss, rtt_ms)
     SELECT FROM_UNIXTIME(${CDR_EPOCH} + seq * 17 + (seq MOD 1000) / 1000), CONCAT(MD5(seq), '@10.15.0.1'),
       1 + (CRC32(seq) MOD 3500) / 1000 + 1 / 3, (CRC32(seq + 1) MOD 100000) / 3333.333 + PI() / 1000,
       IF(seq MOD 9 = 0, NULL, (CRC32(seq + 2) MOD 100000) / 7919),
       IF(seq MOD 5 = 0, NULL, EXP((CRC32(seq + 3) MOD 1000) / 100) / 7)
     FROM seq_1_to_${sc.qosSamples}`,
    `INSERT INTO stats.type_zoo (flags, features, doc, big_decimal, t6, dt6, ts3, yr, bin16, vbin, ubig, sbig, dbl, flt, note)
     SELECT CAST(seq * 37 MOD 256 AS UNSIGNED),
       MAKE_SET(seq MOD 64, 'voicemail', 'fax', 'cf', 'pbx', 'sms', '🎉'),
       JSON_OBJECT('seq', seq, 'name', ${trickyMb4('seq')}, 'nested', JSON_ARRAY(seq, seq / 7, TRUE, NULL), 'city', 'Zürich'),
       CAST(CONCAT(IF(seq MOD 2 = 0, '-', ''), REPEAT('9', seq MOD 36), IF(seq MOD 36 = 0, '0', ''), '.', LPAD(CRC32(seq), 30, '7')) AS DECIMAL(65,30)),
       SEC_TO_TIME(IF(seq MOD 3 = 0, -1, 1) * ((CRC32(seq) MOD 3000000) + (CRC32(seq + 1) MOD 1000000) * 0.000001)),
       FROM_UNIXTIME(${CDR_EPOCH} + seq * 86400 * 3 + (CRC32(seq) MOD 1000000) * 0.000001),
       IF(seq MOD 7 = 0, NULL, FROM_UNIXTIME(${CDR_EPOCH} + seq * 3600 + (seq MOD 1000) / 1000)),
       IF(seq = 1, 0, 1901 + seq * 5 MOD 254),
       UNHEX(MD5(seq)),
       IF(seq MOD 8 = 0, NULL, CONCAT(LEFT(UNHEX(SHA1(seq)), seq MOD 20), IF(seq MOD 5 = 0, UNHEX('000000'), ''))),
       IF(seq = 1, 18446744073709551615, CRC32(seq) * 4294967296 + CRC32(seq + 1)),
       IF(seq = 1, -9223372036854775808, IF(seq = 2, 9223372036854775807, CAST(CRC32(seq) AS SIGNED) - 2147483648)),
       CASE seq WHEN 1 THEN 1.7976931348623157e308 WHEN 2 THEN -2.2250738585072014e-308 WHEN 3 THEN 0.1 + 0.2
            ELSE (CRC32(seq) / 7) * POW(10, CAST(seq MOD 40 AS SIGNED) - 20) END,
       CASE seq WHEN 1 THEN 3.4028234e38 WHEN 2 THEN 1.17549435e-38 ELSE (CRC32(seq) MOD 100000) / 977 END,
       IF(seq MOD 4 = 0, NULL, ${trickyMb4('seq DIV 2')})
     FROM seq_1_to_64`,
    `INSERT INTO stats.type_zoo (flags, features, doc, big_decimal, t6, dt6, ts3, yr, bin16, vbin, ubig, sbig, dbl, flt, note) VALUES
       (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
       (b'11111111', '', '{}', -99999999999999999999999999999999999.999999999999999999999999999999,
        '-838:59:59.000000', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000', 2155,
        UNHEX('00000000000000000000000000000000'), '', 0, 0, -0.0, -0.0, ''),
       (b'00000000', 'voicemail,fax,cf,pbx,sms', '[1, "two", {"3": [4]}]', 0.000000000000000000000000000001,
        '838:59:59.999999', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999', 1901,
        UNHEX('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'), UNHEX('00FF00FF'), 1, -1, 5e-324, 1e-45, 'ÿ þ ß')`,
    `INSERT INTO stats.legacy_latin1 (city, note) VALUES
       ('Zürich', 'Grüße aus der Schweiz'), ('Ångström', 'unit'), ('façade', 'naïve café'), ('£ 5', '© ® ° ± µ ¶'),
       ('Malmö', NULL), ('Ærøskøbing', 'æøå ÆØÅ'), ('São Paulo', 'ção'), ('plain', 'ASCII only'),
       ('O''Neil', 'back\\\\slash'), ('ÿ', 'last latin1 letter')`,
    `INSERT INTO stats.rrd_import_log (host, metric, ts, value)
     SELECT IF(seq MOD 2 = 0, 'sp1', 'sp2'), ${pick('seq DIV 2', ['load.1min', 'mem.used', 'calls.active'])},
       FROM_UNIXTIME(${CDR_EPOCH} + (seq MOD 10) * 60), IF(seq MOD 6 = 0, NULL, (seq MOD 10) / 3)
     FROM seq_1_to_40`,
    // Exact duplicates: a table without a primary key may hold identical rows.
    `INSERT INTO stats.rrd_import_log (host, metric, ts, value)
     SELECT host, metric, ts, value FROM stats.rrd_import_log ORDER BY ts, host, metric LIMIT 5`,
    'SELECT NEXTVAL(stats.report_seq), NEXTVAL(stats.report_seq), NEXTVAL(stats.report_seq)',
  ];
}

function smallDatabasesSql(ctx: DataContext): string[] {
  const release = escape(ctx.ngcpVersion);
  const node = escape(ctx.nodeName);
  return [
    `INSERT INTO ngcp.db_schema (revision, node, applied_at, \`release\`, site_id)
     SELECT 15000 + seq * 37, ${node}, FROM_UNIXTIME(${CDR_EPOCH} - 86400 * 30 + seq * 7), ${release}, 1
     FROM seq_1_to_40`,
    `INSERT INTO carrier.customers (id, external_id, name) VALUES (1, NULL, 'default'), (2, 'ext-2', 'ACME Telecom AG'), (3, 'ext-3', 'Résellér Zwei')`,
    `INSERT INTO carrier.contracts (customer_id, url, status) VALUES (1, NULL, 'active'), (2, 'https://acme', 'active'), (3, NULL, 'terminated')`,
    `INSERT INTO fileshare.files (uuid, owner, filename, content_type, data, created_at, ttl)
     SELECT ${uuidExpr('seq + 5000')}, CONCAT('4312', LPAD(seq, 6, '0'), '@voip.example.org'),
       ${pick('seq', ['report.pdf', 'Übersicht 2024.xlsx', 'photo 😀.jpg', "o'neil.txt"])},
       ${pick('seq', ['application/pdf', 'application/vnd.ms-excel', 'image/jpeg', 'text/plain'])},
       IF(seq = 1, '', ${binaryExpr("CONCAT('share-', s.seq)", '100 + CRC32(s.seq) MOD 30000', 30100)}),
       FROM_UNIXTIME(${CDR_EPOCH} + seq * 3600), 86400 * seq
     FROM seq_1_to_6 s`,
    `INSERT INTO fileshare.downloads (file_id, downloaded_at, ip)
     SELECT 1 + seq MOD 6, FROM_UNIXTIME(${CDR_EPOCH} + seq * 7200), CONCAT('198.51.100.', seq) FROM seq_1_to_12`,
    `INSERT INTO freeswitch.sip_registrations (call_id, sip_user, sip_host, contact, status, expires, user_agent, hostname)
     SELECT CONCAT(MD5(seq), '@fs'), CONCAT('4312', LPAD(seq, 6, '0')), 'voip.example.org',
       CONCAT('"4312', LPAD(seq, 6, '0'), '" <sip:4312', LPAD(seq, 6, '0'), '@10.15.0.', seq, ':5080>'), 'Registered(UDP)',
       ${CDR_EPOCH} + seq * 60, 'FreeSWITCH-mod_sofia/1.10', ${node}
     FROM seq_1_to_5`,
    `INSERT INTO freeswitch.voicemail_prefs (username, domain, name_path, greeting_path, password) VALUES
       ('4312000001', 'voip.example.org', NULL, '/var/spool/freeswitch/greeting 1.wav', '1234'),
       ('4312000002', 'sip.example.net', '/var/spool/freeswitch/name.wav', NULL, NULL)`,
    `INSERT INTO ldap.ldap_oc_mappings (id, name, keytbl, keycol, create_proc, delete_proc, expect_return) VALUES
       (1, 'inetOrgPerson', 'billing.contacts', 'id', NULL, NULL, 0),
       (2, 'organizationalUnit', 'billing.resellers', 'id', 'SELECT create_ou(?)', NULL, 1)`,
    `INSERT INTO ldap.ldap_attr_mappings (oc_map_id, name, sel_expr, from_tbls, join_where) VALUES
       (1, 'cn', "CONCAT(c.firstname, ' ', c.lastname)", 'billing.contacts c', NULL),
       (1, 'mail', 'c.email', 'billing.contacts c', NULL),
       (2, 'ou', 'r.name', 'billing.resellers r', NULL)`,
    `INSERT INTO prosody.prosody (host, user, store, \`key\`, type, value)
     SELECT 'voip.example.org', CONCAT('4312', LPAD(seq, 6, '0')), ${pick('seq', ['roster', 'vcard', 'accounts', 'private'])},
       ${pick('seq', ['', 'password', 'nick', 'pep'])}, IF(seq MOD 2 = 0, 'string', 'json'),
       IF(seq MOD 2 = 0, CONCAT('value-', seq), CONCAT('{"name":"', ${pick('seq', ['Jürgen', 'Zoë 🎉', 'Anna'])}, '","n":', seq, '}'))
     FROM seq_1_to_20`,
    `INSERT INTO prosody.prosodyarchive (host, user, store, \`key\`, \`when\`, \`with\`, type, value)
     SELECT 'voip.example.org', CONCAT('4312', LPAD(seq, 6, '0')), 'archive', MD5(seq), ${CDR_EPOCH} + seq * 60,
       CONCAT('4312', LPAD(seq + 1, 6, '0'), '@voip.example.org<chat'), 'xml',
       CONCAT('<message xmlns="jabber:client" type="chat"><body>', ${trickyMb4('seq')}, '</body></message>')
     FROM seq_1_to_15`,
  ];
}
