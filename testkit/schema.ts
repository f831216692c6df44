/**
 * DDL of the sandbox node's databases: compact, written for this project from the facts in
 * the NGCP facts in docs/design.md, but with the shapes that make a dump hard (zero-date defaults, MERGE over MyISAM,
 * partitions, generated columns, views on views, triggers across databases, odd types).
 */

export const NGCP_DATABASES = [
  'accounting',
  'billing',
  'carrier',
  'fileshare',
  'freeswitch',
  'kamailio',
  'ldap',
  'ngcp',
  'prosody',
  'provisioning',
  'sipstats',
  'stats',
  'syslog',
] as const;
export type NgcpDatabase = (typeof NGCP_DATABASES)[number];

/** First second covered by accounting.cdr (2024-05-01T00:00:00Z); the data spans two months. */
export const CDR_EPOCH = 1714521600;
export const CDR_SPAN_SECONDS = 61 * 86400;
/** accounting.cdr_202404 holds April 2024, the month before CDR_EPOCH. */
export const ARCHIVE_TABLE = 'cdr_202404';
export const ARCHIVE_EPOCH = 1711929600;

export const DEFINER_ROOT = '`root`@`localhost`';
export const DEFINER_SIPWISE = '`sipwise`@`localhost`';

// ---------------------------------------------------------------------------------------------
// accounting.cdr

const PARTY_COLUMNS: Array<[string, string]> = [
  ['user_id', "char(36) NOT NULL DEFAULT ''"],
  ['provider_id', "varchar(255) NOT NULL DEFAULT ''"],
  ['external_subscriber_id', 'varchar(255) DEFAULT NULL'],
  ['external_contract_id', 'varchar(255) DEFAULT NULL'],
  ['account_id', 'int(11) unsigned NOT NULL DEFAULT 0'],
  ['user', "varchar(255) NOT NULL DEFAULT ''"],
  ['domain', "varchar(255) NOT NULL DEFAULT ''"],
  ['cli', "varchar(64) NOT NULL DEFAULT ''"],
  ['clir', 'tinyint(1) NOT NULL DEFAULT 0'],
  ['ip', "varchar(64) NOT NULL DEFAULT ''"],
  ['user_out', "varchar(255) NOT NULL DEFAULT ''"],
  ['lnp_prefix', "varchar(255) NOT NULL DEFAULT ''"],
  ['lnp_type', 'varchar(255) DEFAULT NULL'],
  ['billing_profile_id', 'int(11) unsigned DEFAULT NULL'],
  ['concurrent_calls_quota', 'int(3) unsigned DEFAULT NULL'],
  ['concurrent_calls_count', 'int(3) unsigned DEFAULT NULL'],
  ['concurrent_calls_count_customer', 'int(3) unsigned DEFAULT NULL'],
];

function costColumns(side: 'source' | 'destination'): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const party of ['carrier', 'reseller', 'customer']) {
    out.push(
      [`${side}_${party}_cost`, 'decimal(14,6) NOT NULL DEFAULT 0.000000'],
      [`${side}_${party}_free_time`, 'int(10) unsigned NOT NULL DEFAULT 0'],
      [`${side}_${party}_billing_fee_id`, 'int(11) unsigned DEFAULT NULL'],
      [`${side}_${party}_billing_zone_id`, 'int(11) unsigned DEFAULT NULL'],
    );
  }
  return out;
}

/** The columns of accounting.cdr and its monthly archives, in table order. */
export const CDR_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['id', 'bigint(20) unsigned NOT NULL AUTO_INCREMENT'],
  ['update_time', 'timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()'],
  ...PARTY_COLUMNS.map(([name, type]): [string, string] => [`source_${name}`, type]),
  ...PARTY_COLUMNS.map(([name, type]): [string, string] => [`destination_${name}`, type]),
  ['destination_user_dialed', "varchar(255) NOT NULL DEFAULT ''"],
  ['destination_user_in', "varchar(255) NOT NULL DEFAULT ''"],
  ['peer_auth_user', 'varchar(255) DEFAULT NULL'],
  ['peer_auth_realm', 'varchar(255) DEFAULT NULL'],
  ['call_type', "enum('call','cfu','cft','cfb','cfna','cfs','sms','cfr','cfo') NOT NULL DEFAULT 'call'"],
  [
    'call_status',
    "enum('ok','busy','noanswer','cancel','offline','timeout','other','failed') NOT NULL DEFAULT 'ok'",
  ],
  ['call_code', "char(3) NOT NULL DEFAULT ''"],
  ['init_time', 'decimal(13,3) NOT NULL'],
  ['start_time', 'decimal(13,3) NOT NULL'],
  ['duration', 'decimal(13,3) NOT NULL'],
  ['call_id', "varchar(255) NOT NULL DEFAULT ''"],
  ['header_diversion', 'varchar(2048) DEFAULT NULL'],
  ['header_pai', 'varchar(2048) DEFAULT NULL'],
  ['header_u2u', 'varchar(255) DEFAULT NULL'],
  ['furnished_charging_info', 'varchar(255) DEFAULT NULL'],
  ...costColumns('source'),
  ...costColumns('destination'),
  ['rated_at', 'datetime DEFAULT NULL'],
  ['rating_status', "enum('unrated','ok','failed') NOT NULL DEFAULT 'unrated'"],
  ['exported_at', 'datetime DEFAULT NULL'],
  ['export_status', "enum('unexported','ok','failed') NOT NULL DEFAULT 'unexported'"],
];

/** The 14 secondary keys of accounting.cdr, added after the bulk load (a sorted build is faster). */
export const CDR_SECONDARY_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['suid', 'source_user_id'],
  ['duid', 'destination_user_id'],
  ['suri', 'source_user, source_domain, source_cli'],
  ['duri', 'destination_user, destination_domain'],
  ['sprov', 'source_provider_id'],
  ['dprov', 'destination_provider_id'],
  ['kcid', 'call_id'],
  ['sext', 'source_external_subscriber_id'],
  ['dext', 'destination_external_subscriber_id'],
  ['sacc', 'source_account_id'],
  ['dacc', 'destination_account_id'],
  ['rating', 'rating_status, start_time'],
  ['export', 'export_status, start_time'],
  ['utime', 'update_time'],
];

export function cdrTableDdl(name: string, withKeys: boolean): string {
  const cols = CDR_COLUMNS.map(([col, type]) => `  \`${col}\` ${type}`);
  const keys = withKeys ? CDR_SECONDARY_KEYS.map(([k, c]) => `,\n  KEY \`${k}\` (${c})`).join('') : '';
  return `CREATE TABLE accounting.\`${name}\` (\n${cols.join(',\n')},\n  PRIMARY KEY (\`id\`, \`start_time\`)${keys}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`;
}

export function cdrSecondaryKeysDdl(table: string): string {
  const adds = CDR_SECONDARY_KEYS.map(([name, cols]) => `ADD KEY \`${name}\` (${cols})`);
  return `ALTER TABLE accounting.\`${table}\` ${adds.join(', ')}`;
}

function monthStart(year: number, month: number): number {
  return Date.UTC(year, month - 1, 1) / 1000;
}

// ---------------------------------------------------------------------------------------------

/**
 * Statements run before any data: databases, tables, and the triggers that data must fire.
 * cdrKeys: create accounting.cdr and its archive with their secondary keys (else add them later).
 */
export function schemaSql(options: { cdrKeys: boolean }): string[] {
  const s: string[] = [];
  for (const db of NGCP_DATABASES) {
    s.push(`CREATE DATABASE \`${db}\` DEFAULT CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`);
  }

  // --- accounting
  s.push(cdrTableDdl('cdr', options.cdrKeys), cdrTableDdl(ARCHIVE_TABLE, options.cdrKeys));
  s.push(`CREATE TABLE accounting.mark (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  collector varchar(255) NOT NULL,
  acc_id bigint(20) unsigned NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY collector_idx (collector)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE accounting.cdr_tag (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  type varchar(255) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY type_idx (type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE accounting.cdr_tag_data (
  cdr_id bigint(20) unsigned NOT NULL,
  tag_id int(10) unsigned NOT NULL,
  val varchar(255) NOT NULL,
  cdr_start_time decimal(13,3) NOT NULL,
  PRIMARY KEY (cdr_id, cdr_start_time, tag_id),
  KEY tag_id (tag_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  const partitions: string[] = [];
  for (const [y, m] of [[2024, 4], [2024, 5], [2024, 6], [2024, 7]] as const) {
    const next = monthStart(y, m + 1); // Date.UTC rolls month 13 over into January
    partitions.push(`PARTITION p${y}${String(m).padStart(2, '0')} VALUES LESS THAN (${next})`);
  }
  partitions.push('PARTITION pmax VALUES LESS THAN MAXVALUE');
  s.push(`CREATE TABLE accounting.cdr_cash_balance_data (
  cdr_id bigint(20) unsigned NOT NULL,
  cdr_start_time decimal(13,3) NOT NULL,
  provider_id int(10) unsigned NOT NULL,
  direction_id int(10) unsigned NOT NULL,
  cash_balance_id int(10) unsigned NOT NULL,
  val_before decimal(14,6) DEFAULT NULL,
  val_after decimal(14,6) DEFAULT NULL,
  PRIMARY KEY (cdr_id, cdr_start_time, provider_id, direction_id, cash_balance_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3
PARTITION BY RANGE (FLOOR(cdr_start_time))
(${partitions.join(',\n ')})`);

  // --- kamailio
  s.push(`CREATE TABLE kamailio.acc (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  method varchar(16) NOT NULL DEFAULT '',
  from_tag varchar(64) NOT NULL DEFAULT '',
  to_tag varchar(64) NOT NULL DEFAULT '',
  callid varchar(255) NOT NULL DEFAULT '',
  sip_code char(3) NOT NULL DEFAULT '',
  sip_reason varchar(128) NOT NULL DEFAULT '',
  time datetime NOT NULL,
  time_hires decimal(13,3) NOT NULL,
  src_leg varchar(2048) DEFAULT NULL,
  dst_leg varchar(2048) DEFAULT NULL,
  dst_user varchar(64) NOT NULL DEFAULT '',
  dst_ouser varchar(64) NOT NULL DEFAULT '',
  dst_domain varchar(128) NOT NULL DEFAULT '',
  src_user varchar(64) NOT NULL DEFAULT '',
  src_domain varchar(128) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY callid_idx (callid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
  s.push('CREATE TABLE kamailio.acc_backup LIKE kamailio.acc');
  s.push('CREATE TABLE kamailio.acc_trash LIKE kamailio.acc');
  s.push(`CREATE TABLE kamailio.subscriber (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  username varchar(64) NOT NULL DEFAULT '',
  domain varchar(64) NOT NULL DEFAULT '',
  uuid char(36) NOT NULL,
  password varchar(40) NOT NULL DEFAULT '',
  ha1 varchar(64) NOT NULL DEFAULT '',
  ha1b varchar(64) NOT NULL DEFAULT '',
  timezone varchar(64) DEFAULT NULL,
  datetime_created timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (id),
  UNIQUE KEY account_idx (username, domain),
  KEY uuid_idx (uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE kamailio.domain (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  domain varchar(64) NOT NULL DEFAULT '',
  did varchar(64) DEFAULT NULL,
  last_modified datetime NOT NULL DEFAULT '2000-01-01 00:00:01',
  PRIMARY KEY (id),
  UNIQUE KEY domain_idx (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE kamailio.usr_preferences (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  uuid char(36) NOT NULL DEFAULT '',
  username varchar(128) NOT NULL DEFAULT '0',
  domain varchar(64) NOT NULL DEFAULT '',
  attribute varchar(32) NOT NULL DEFAULT '',
  type int(11) NOT NULL DEFAULT 0,
  value varchar(128) NOT NULL DEFAULT '',
  last_modified datetime NOT NULL DEFAULT '1900-01-01 00:00:01',
  PRIMARY KEY (id),
  KEY ua_idx (uuid, attribute),
  KEY uda_idx (username, domain, attribute)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE kamailio.location (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  ruid varchar(64) NOT NULL DEFAULT '',
  username varchar(64) NOT NULL DEFAULT '',
  domain varchar(64) DEFAULT NULL,
  contact varchar(512) NOT NULL DEFAULT '',
  received varchar(128) DEFAULT NULL,
  path varchar(512) DEFAULT NULL,
  expires datetime NOT NULL DEFAULT '2030-05-28 21:32:15',
  q float(10,2) NOT NULL DEFAULT 1.00,
  callid varchar(255) NOT NULL DEFAULT 'Default-Call-ID',
  cseq int(11) NOT NULL DEFAULT 1,
  last_modified datetime NOT NULL DEFAULT '2000-01-01 00:00:01',
  flags int(11) NOT NULL DEFAULT 0,
  cflags int(11) NOT NULL DEFAULT 0,
  user_agent varchar(255) NOT NULL DEFAULT '',
  socket varchar(64) DEFAULT NULL,
  methods int(11) DEFAULT NULL,
  instance varchar(255) DEFAULT NULL,
  reg_id int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY ruid_idx (ruid),
  KEY account_contact_idx (username, domain, contact(255)),
  KEY expires_idx (expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  s.push(`CREATE TABLE kamailio.voicemail_spool (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  msgnum int(11) NOT NULL DEFAULT 0,
  dir varchar(127) DEFAULT '',
  context varchar(63) DEFAULT '',
  macrocontext varchar(63) DEFAULT '',
  callerid varchar(255) DEFAULT '',
  origtime varchar(16) DEFAULT '',
  duration varchar(16) DEFAULT '',
  mailboxuser varchar(255) DEFAULT '',
  mailboxcontext varchar(63) DEFAULT '',
  recording mediumblob DEFAULT NULL,
  flag varchar(128) DEFAULT '',
  msg_id varchar(40) NOT NULL DEFAULT '',
  call_id varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  KEY dir (dir),
  KEY mailboxuser_idx (mailboxuser)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE kamailio.version (
  table_name varchar(32) NOT NULL,
  table_version int(10) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (table_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);

  // --- billing (zero-date defaults: created with sql_mode='')
  s.push(`CREATE TABLE billing.resellers (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  contract_id int(11) unsigned NOT NULL,
  name varchar(63) NOT NULL,
  status enum('active','locked','terminated') NOT NULL DEFAULT 'active',
  PRIMARY KEY (id),
  UNIQUE KEY name_idx (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.contacts (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  reseller_id int(11) unsigned DEFAULT NULL,
  gender enum('male','female') DEFAULT NULL,
  firstname varchar(127) DEFAULT NULL,
  lastname varchar(127) DEFAULT NULL,
  company varchar(127) DEFAULT NULL,
  street varchar(127) DEFAULT NULL,
  postcode varchar(16) DEFAULT NULL,
  city varchar(127) DEFAULT NULL,
  country char(2) DEFAULT NULL,
  phonenumber varchar(31) DEFAULT NULL,
  email varchar(255) NOT NULL,
  create_timestamp timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  modify_timestamp timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  \`terminated\` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  KEY reseller_idx (reseller_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.contracts (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  customer_id int(11) unsigned DEFAULT NULL,
  contact_id int(11) unsigned DEFAULT NULL,
  order_id int(11) unsigned DEFAULT NULL,
  status enum('pending','active','locked','suspended','terminated') NOT NULL DEFAULT 'active',
  external_id varchar(255) DEFAULT NULL,
  vat_rate tinyint(3) unsigned NOT NULL DEFAULT 0,
  add_vat tinyint(1) NOT NULL DEFAULT 0,
  create_timestamp timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  modify_timestamp timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  activate_timestamp timestamp NULL DEFAULT NULL,
  terminate_timestamp timestamp NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY contactid_idx (contact_id),
  KEY externalid_idx (external_id),
  CONSTRAINT c_contactid_ref FOREIGN KEY (contact_id) REFERENCES billing.contacts (id) ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.billing_profiles (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  reseller_id int(11) unsigned DEFAULT NULL,
  handle varchar(63) NOT NULL,
  name varchar(31) NOT NULL,
  prepaid tinyint(1) NOT NULL DEFAULT 0,
  interval_charge double NOT NULL DEFAULT 0,
  interval_free_time int(5) NOT NULL DEFAULT 0,
  currency varchar(31) DEFAULT NULL,
  status enum('active','terminated') NOT NULL DEFAULT 'active',
  PRIMARY KEY (id),
  UNIQUE KEY resnam_idx (reseller_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.billing_mappings (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  start_date datetime DEFAULT NULL,
  end_date datetime DEFAULT NULL,
  billing_profile_id int(11) unsigned DEFAULT NULL,
  contract_id int(11) unsigned NOT NULL,
  PRIMARY KEY (id),
  KEY contractid_idx (contract_id),
  CONSTRAINT b_m_contractid_ref FOREIGN KEY (contract_id) REFERENCES billing.contracts (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.contract_balances (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  contract_id int(11) unsigned NOT NULL,
  cash_balance decimal(20,8) DEFAULT NULL,
  cash_balance_interval decimal(20,8) NOT NULL DEFAULT 0.00000000,
  free_time_balance int(11) DEFAULT NULL,
  start datetime NOT NULL,
  end datetime NOT NULL,
  PRIMARY KEY (id),
  KEY balance_interval (contract_id, end, start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE billing.journals (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  operation enum('create','update','delete') NOT NULL DEFAULT 'create',
  resource_name varchar(64) NOT NULL,
  resource_id int(11) unsigned NOT NULL,
  timestamp decimal(13,3) NOT NULL,
  username varchar(127) DEFAULT NULL,
  content_format enum('storable','json','json_deflate','sereal') NOT NULL DEFAULT 'json',
  content blob DEFAULT NULL,
  PRIMARY KEY (id),
  KEY res_idx (resource_name, resource_id),
  KEY ts_idx (timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);

  // --- provisioning
  s.push(`CREATE TABLE provisioning.voip_domains (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  domain varchar(127) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY domain_idx (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.voip_subscribers (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  username varchar(127) NOT NULL,
  domain_id int(11) unsigned NOT NULL,
  uuid char(36) NOT NULL,
  password varchar(40) DEFAULT NULL,
  webusername varchar(127) DEFAULT NULL,
  webpassword varchar(60) DEFAULT NULL,
  admin tinyint(1) NOT NULL DEFAULT 0,
  account_id int(11) unsigned DEFAULT NULL,
  is_pbx_group tinyint(1) NOT NULL DEFAULT 0,
  create_timestamp timestamp NOT NULL DEFAULT current_timestamp(),
  modify_timestamp timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (id),
  UNIQUE KEY user_dom_idx (username, domain_id),
  UNIQUE KEY uuid_idx (uuid),
  KEY domainid_idx (domain_id),
  CONSTRAINT v_s_domainid_ref FOREIGN KEY (domain_id) REFERENCES provisioning.voip_domains (id) ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.voip_preferences (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  attribute varchar(31) NOT NULL,
  label varchar(255) NOT NULL,
  type tinyint(3) NOT NULL DEFAULT 0,
  max_occur tinyint(3) unsigned NOT NULL,
  usr_pref tinyint(1) NOT NULL DEFAULT 0,
  dom_pref tinyint(1) NOT NULL DEFAULT 0,
  data_type enum('boolean','int','string','enum','blob') NOT NULL DEFAULT 'string',
  description text DEFAULT NULL,
  modify_timestamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (id),
  UNIQUE KEY attribute_idx (attribute)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.voip_usr_preferences (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  subscriber_id int(11) unsigned NOT NULL,
  attribute_id int(11) unsigned NOT NULL,
  value varchar(128) NOT NULL,
  modify_timestamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (id),
  KEY subidattrid_idx (subscriber_id, attribute_id),
  KEY attributeid_idx (attribute_id),
  CONSTRAINT v_u_p_subscriberid_ref FOREIGN KEY (subscriber_id) REFERENCES provisioning.voip_subscribers (id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT v_u_p_attributeid_ref FOREIGN KEY (attribute_id) REFERENCES provisioning.voip_preferences (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.voip_fax_data (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  subscriber_id int(11) unsigned NOT NULL,
  direction enum('in','out') NOT NULL DEFAULT 'in',
  filename varchar(255) NOT NULL,
  mime_type varchar(64) NOT NULL DEFAULT 'image/tiff',
  pages smallint(5) unsigned NOT NULL DEFAULT 1,
  data blob DEFAULT NULL,
  PRIMARY KEY (id),
  KEY subscriber_idx (subscriber_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.autoprov_devices (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  reseller_id int(11) unsigned NOT NULL,
  vendor varchar(255) NOT NULL,
  model varchar(255) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY vendmod_idx (reseller_id, vendor, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.autoprov_firmwares (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  device_id int(11) unsigned NOT NULL,
  version varchar(255) NOT NULL,
  filename varchar(255) DEFAULT NULL,
  PRIMARY KEY (id),
  KEY device_idx (device_id),
  CONSTRAINT fk_fw_device FOREIGN KEY (device_id) REFERENCES provisioning.autoprov_devices (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE provisioning.autoprov_firmwares_data (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  fw_id int(11) unsigned NOT NULL,
  data longblob DEFAULT NULL,
  PRIMARY KEY (id),
  KEY fw_idx (fw_id),
  CONSTRAINT fk_fwdata_fw FOREIGN KEY (fw_id) REFERENCES provisioning.autoprov_firmwares (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(...provisioningTriggers());

  // --- ngcp
  s.push(`CREATE TABLE ngcp.db_schema (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  revision int(10) unsigned NOT NULL,
  node varchar(64) NOT NULL,
  applied_at timestamp NOT NULL DEFAULT current_timestamp(),
  \`release\` varchar(64) DEFAULT NULL,
  site_id int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY rev_idx (revision, node)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);

  // --- syslog: MyISAM tables behind a MERGE table
  for (const t of ['se1', 'se2', 'se3']) {
    s.push(`CREATE TABLE syslog.${t} (
  ID int(10) unsigned NOT NULL AUTO_INCREMENT,
  CustomerID bigint(20) DEFAULT NULL,
  ReceivedAt datetime DEFAULT NULL,
  DeviceReportedTime datetime DEFAULT NULL,
  Facility smallint(6) DEFAULT NULL,
  Priority smallint(6) DEFAULT NULL,
  FromHost varchar(60) DEFAULT NULL,
  Message text DEFAULT NULL,
  NTSeverity int(11) DEFAULT NULL,
  Importance int(11) DEFAULT NULL,
  EventSource varchar(60) DEFAULT NULL,
  EventUser varchar(60) DEFAULT NULL,
  EventCategory int(11) DEFAULT NULL,
  EventID int(11) DEFAULT NULL,
  EventBinaryData text DEFAULT NULL,
  MaxAvailable int(11) DEFAULT NULL,
  CurrUsage int(11) DEFAULT NULL,
  MinUsage int(11) DEFAULT NULL,
  MaxUsage int(11) DEFAULT NULL,
  InfoUnitID int(11) DEFAULT NULL,
  SysLogTag varchar(60) DEFAULT NULL,
  EventLogType varchar(60) DEFAULT NULL,
  GenericFileName varchar(60) DEFAULT NULL,
  SystemID int(11) DEFAULT NULL,
  PRIMARY KEY (ID),
  KEY ReceivedAt (ReceivedAt)
) ENGINE=MyISAM DEFAULT CHARSET=utf8mb3`);
  }
  s.push(`CREATE TABLE syslog.SystemEvents (
  ID int(10) unsigned NOT NULL AUTO_INCREMENT,
  CustomerID bigint(20) DEFAULT NULL,
  ReceivedAt datetime DEFAULT NULL,
  DeviceReportedTime datetime DEFAULT NULL,
  Facility smallint(6) DEFAULT NULL,
  Priority smallint(6) DEFAULT NULL,
  FromHost varchar(60) DEFAULT NULL,
  Message text DEFAULT NULL,
  NTSeverity int(11) DEFAULT NULL,
  Importance int(11) DEFAULT NULL,
  EventSource varchar(60) DEFAULT NULL,
  EventUser varchar(60) DEFAULT NULL,
  EventCategory int(11) DEFAULT NULL,
  EventID int(11) DEFAULT NULL,
  EventBinaryData text DEFAULT NULL,
  MaxAvailable int(11) DEFAULT NULL,
  CurrUsage int(11) DEFAULT NULL,
  MinUsage int(11) DEFAULT NULL,
  MaxUsage int(11) DEFAULT NULL,
  InfoUnitID int(11) DEFAULT NULL,
  SysLogTag varchar(60) DEFAULT NULL,
  EventLogType varchar(60) DEFAULT NULL,
  GenericFileName varchar(60) DEFAULT NULL,
  SystemID int(11) DEFAULT NULL,
  PRIMARY KEY (ID),
  KEY ReceivedAt (ReceivedAt)
) ENGINE=MRG_MyISAM DEFAULT CHARSET=utf8mb3 INSERT_METHOD=LAST UNION=(syslog.se1,syslog.se2,syslog.se3)`);

  // --- sipstats
  s.push(`CREATE TABLE sipstats.packets (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  timestamp decimal(17,6) NOT NULL,
  src_mac binary(6) NOT NULL,
  dst_mac binary(6) NOT NULL,
  protocol enum('IPv4','IPv6') NOT NULL,
  src_ip varchar(39) NOT NULL,
  dst_ip varchar(39) NOT NULL,
  src_port smallint(5) unsigned NOT NULL,
  dst_port smallint(5) unsigned NOT NULL,
  header blob NOT NULL,
  payload blob NOT NULL,
  trailer blob NOT NULL,
  method varchar(32) NOT NULL,
  cseq_method varchar(16) NOT NULL,
  call_id varchar(255) NOT NULL,
  request_uri varchar(255) NOT NULL,
  from_uri varchar(255) NOT NULL,
  caller_uuid varchar(255) NOT NULL,
  callee_uuid varchar(255) NOT NULL,
  was_fragmented tinyint(3) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (id, timestamp),
  KEY call_id_idx (call_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE sipstats.messages (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  timestamp decimal(17,6) NOT NULL,
  src_ip varchar(39) NOT NULL,
  dst_ip varchar(39) NOT NULL,
  method varchar(32) NOT NULL,
  call_id varchar(255) NOT NULL,
  sip_code char(3) DEFAULT NULL,
  PRIMARY KEY (id),
  KEY call_id_idx (call_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);

  // --- stats
  s.push(`CREATE TABLE stats.call_stats_5min (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  node varchar(64) NOT NULL,
  period_start datetime NOT NULL,
  calls int(10) unsigned NOT NULL DEFAULT 0,
  answered int(10) unsigned NOT NULL DEFAULT 0,
  duration decimal(13,3) NOT NULL DEFAULT 0.000,
  minutes decimal(16,4) GENERATED ALWAYS AS (duration / 60) VIRTUAL,
  asr_pct decimal(6,2) GENERATED ALWAYS AS (IF(calls = 0, NULL, answered * 100 / calls)) STORED,
  PRIMARY KEY (id),
  UNIQUE KEY node_period (node, period_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE stats.qos_samples (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  sampled_at datetime(3) NOT NULL,
  call_id varchar(255) NOT NULL,
  mos float NOT NULL,
  jitter_ms double NOT NULL,
  packet_loss float(7,4) DEFAULT NULL,
  rtt_ms double DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE stats.type_zoo (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  flags bit(8) DEFAULT NULL,
  features set('voicemail','fax','cf','pbx','sms','🎉') CHARACTER SET utf8mb4 DEFAULT NULL,
  doc longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(doc)),
  big_decimal decimal(65,30) DEFAULT NULL,
  t6 time(6) DEFAULT NULL,
  dt6 datetime(6) DEFAULT NULL,
  ts3 timestamp(3) NULL DEFAULT NULL,
  yr year(4) DEFAULT NULL,
  bin16 binary(16) DEFAULT NULL,
  vbin varbinary(255) DEFAULT NULL,
  ubig bigint(20) unsigned DEFAULT NULL,
  sbig bigint(20) DEFAULT NULL,
  dbl double DEFAULT NULL,
  flt float DEFAULT NULL,
  note varchar(255) CHARACTER SET utf8mb4 DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE stats.legacy_latin1 (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  city varchar(64) NOT NULL,
  note varchar(255) DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci`);
  s.push(`CREATE TABLE stats.rrd_import_log (
  host varchar(64) NOT NULL,
  metric varchar(128) NOT NULL,
  ts datetime NOT NULL,
  value double DEFAULT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push('CREATE SEQUENCE stats.report_seq START WITH 1000 INCREMENT BY 5 CACHE 10');

  // --- small databases
  s.push(`CREATE TABLE carrier.customers (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  external_id varchar(255) DEFAULT NULL,
  name varchar(127) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE carrier.contracts (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  customer_id int(11) unsigned NOT NULL,
  url varchar(31) DEFAULT NULL,
  status enum('active','terminated') NOT NULL DEFAULT 'active',
  PRIMARY KEY (id),
  KEY customer_idx (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE fileshare.files (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  uuid char(36) NOT NULL,
  owner varchar(255) NOT NULL,
  filename varchar(255) CHARACTER SET utf8mb4 NOT NULL,
  content_type varchar(64) NOT NULL,
  data mediumblob NOT NULL,
  created_at datetime NOT NULL,
  ttl int(10) unsigned NOT NULL DEFAULT 86400,
  PRIMARY KEY (id),
  UNIQUE KEY uuid_idx (uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE fileshare.downloads (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  file_id int(11) unsigned NOT NULL,
  downloaded_at datetime NOT NULL,
  ip varchar(64) NOT NULL,
  PRIMARY KEY (id),
  KEY file_idx (file_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE freeswitch.sip_registrations (
  call_id varchar(255) NOT NULL,
  sip_user varchar(255) NOT NULL,
  sip_host varchar(255) NOT NULL,
  contact varchar(1024) DEFAULT NULL,
  status varchar(255) DEFAULT NULL,
  expires bigint(20) DEFAULT NULL,
  user_agent varchar(255) DEFAULT NULL,
  hostname varchar(255) DEFAULT NULL,
  PRIMARY KEY (call_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE freeswitch.voicemail_prefs (
  username varchar(255) NOT NULL,
  domain varchar(255) NOT NULL,
  name_path varchar(255) DEFAULT NULL,
  greeting_path varchar(255) DEFAULT NULL,
  password varchar(255) DEFAULT NULL,
  PRIMARY KEY (username, domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE ldap.ldap_oc_mappings (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(64) NOT NULL,
  keytbl varchar(64) NOT NULL,
  keycol varchar(64) NOT NULL,
  create_proc varchar(255) DEFAULT NULL,
  delete_proc varchar(255) DEFAULT NULL,
  expect_return tinyint(4) NOT NULL DEFAULT 0,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE ldap.ldap_attr_mappings (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  oc_map_id int(10) unsigned NOT NULL,
  name varchar(255) NOT NULL,
  sel_expr varchar(255) NOT NULL,
  from_tbls varchar(255) NOT NULL,
  join_where varchar(255) DEFAULT NULL,
  PRIMARY KEY (id),
  KEY oc_map_idx (oc_map_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`);
  s.push(`CREATE TABLE prosody.prosody (
  host text DEFAULT NULL,
  user text DEFAULT NULL,
  store text DEFAULT NULL,
  \`key\` text DEFAULT NULL,
  type text DEFAULT NULL,
  value mediumtext DEFAULT NULL,
  KEY prosody_index (host(20), user(20), store(20), \`key\`(20))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  s.push(`CREATE TABLE prosody.prosodyarchive (
  sort_id int(10) unsigned NOT NULL AUTO_INCREMENT,
  host text DEFAULT NULL,
  user text DEFAULT NULL,
  store text DEFAULT NULL,
  \`key\` text DEFAULT NULL,
  \`when\` int(11) DEFAULT NULL,
  \`with\` text DEFAULT NULL,
  type text DEFAULT NULL,
  value mediumtext DEFAULT NULL,
  PRIMARY KEY (sort_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  return s;
}

/** Triggers in provisioning that replicate into kamailio, as NGCP's do. */
function provisioningTriggers(): string[] {
  return [
    `CREATE DEFINER=${DEFINER_ROOT} TRIGGER provisioning.voip_dom_crepl_trig AFTER INSERT ON voip_domains
FOR EACH ROW BEGIN
  INSERT INTO kamailio.domain (domain, last_modified) VALUES (NEW.domain, NOW());
END`,
    `CREATE DEFINER=${DEFINER_ROOT} TRIGGER provisioning.voip_dom_drepl_trig AFTER DELETE ON voip_domains
FOR EACH ROW BEGIN
  DELETE FROM kamailio.domain WHERE domain = OLD.domain;
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_sub_crepl_trig AFTER INSERT ON voip_subscribers
FOR EACH ROW BEGIN
  DECLARE subscriber_domain varchar(127);
  SELECT domain INTO subscriber_domain FROM voip_domains WHERE id = NEW.domain_id;
  INSERT INTO kamailio.subscriber (username, domain, uuid, timezone, password, datetime_created, ha1, ha1b)
  VALUES (NEW.username, subscriber_domain, NEW.uuid, NULL, NEW.password, NOW(),
          MD5(CONCAT(NEW.username, ':', subscriber_domain, ':', NEW.password)),
          MD5(CONCAT(NEW.username, '@', subscriber_domain, ':', subscriber_domain, ':', NEW.password)));
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_sub_urepl_trig AFTER UPDATE ON voip_subscribers
FOR EACH ROW BEGIN
  DECLARE old_subscriber_domain varchar(127);
  DECLARE new_subscriber_domain varchar(127);
  SELECT domain INTO old_subscriber_domain FROM voip_domains WHERE id = OLD.domain_id;
  SELECT domain INTO new_subscriber_domain FROM voip_domains WHERE id = NEW.domain_id;
  UPDATE kamailio.subscriber SET username = NEW.username, domain = new_subscriber_domain,
         uuid = NEW.uuid, password = NEW.password,
         ha1 = MD5(CONCAT(NEW.username, ':', new_subscriber_domain, ':', NEW.password)),
         ha1b = MD5(CONCAT(NEW.username, '@', new_subscriber_domain, ':', new_subscriber_domain, ':', NEW.password))
   WHERE username = OLD.username AND domain = old_subscriber_domain;
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_sub_drepl_trig BEFORE DELETE ON voip_subscribers
FOR EACH ROW BEGIN
  DELETE FROM kamailio.subscriber WHERE uuid = OLD.uuid;
  DELETE FROM kamailio.usr_preferences WHERE uuid = OLD.uuid;
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_usrpref_crepl_trig AFTER INSERT ON voip_usr_preferences
FOR EACH ROW BEGIN
  INSERT INTO kamailio.usr_preferences (uuid, username, domain, attribute, type, value, last_modified)
  SELECT s.uuid, s.username, d.domain, p.attribute, p.type, NEW.value, NOW()
    FROM voip_subscribers s
    JOIN voip_domains d ON d.id = s.domain_id
    JOIN voip_preferences p ON p.id = NEW.attribute_id
   WHERE s.id = NEW.subscriber_id;
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_usrpref_urepl_trig AFTER UPDATE ON voip_usr_preferences
FOR EACH ROW BEGIN
  UPDATE kamailio.usr_preferences kup
    JOIN voip_subscribers s ON s.uuid = kup.uuid
    JOIN voip_preferences p ON p.attribute = kup.attribute
     SET kup.value = NEW.value, kup.last_modified = NOW()
   WHERE s.id = OLD.subscriber_id AND p.id = OLD.attribute_id AND kup.value = OLD.value;
END`,
    `CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER provisioning.voip_usrpref_drepl_trig BEFORE DELETE ON voip_usr_preferences
FOR EACH ROW BEGIN
  DELETE kup FROM kamailio.usr_preferences kup
    JOIN voip_subscribers s ON s.uuid = kup.uuid
    JOIN voip_preferences p ON p.attribute = kup.attribute
   WHERE s.id = OLD.subscriber_id AND p.id = OLD.attribute_id AND kup.value = OLD.value;
END`,
  ];
}

/** Statements run after the bulk data: cdr keys, triggers that data must not fire, views, routines. */
export function postDataSql(): string[] {
  const s: string[] = [];
  // accounting: triggers (two pairs share timing/event, ordered with FOLLOWS)
  s.push(`CREATE DEFINER=${DEFINER_ROOT} TRIGGER accounting.cdr_bu_export BEFORE UPDATE ON cdr
FOR EACH ROW BEGIN
  IF NEW.export_status = 'ok' AND OLD.export_status <> 'ok' AND NEW.exported_at IS NULL THEN
    SET NEW.exported_at = NOW();
  END IF;
END`);
  s.push(`CREATE DEFINER=${DEFINER_ROOT} TRIGGER accounting.cdr_bu_rating BEFORE UPDATE ON cdr
FOR EACH ROW FOLLOWS cdr_bu_export BEGIN
  IF NEW.rating_status <> OLD.rating_status AND NEW.rated_at IS NULL THEN
    SET NEW.rated_at = NOW();
  END IF;
END`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER accounting.cdr_ad_cash_balance AFTER DELETE ON cdr
FOR EACH ROW BEGIN
  DELETE FROM cdr_cash_balance_data WHERE cdr_id = OLD.id AND cdr_start_time = OLD.start_time;
END`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} TRIGGER accounting.cdr_ad_tag_data AFTER DELETE ON cdr
FOR EACH ROW FOLLOWS cdr_ad_cash_balance BEGIN
  DELETE FROM cdr_tag_data WHERE cdr_id = OLD.id AND cdr_start_time = OLD.start_time;
END`);

  // billing: views (v_active_contracts reads v_contract_details)
  s.push(`CREATE ALGORITHM=UNDEFINED DEFINER=${DEFINER_SIPWISE} SQL SECURITY DEFINER VIEW billing.v_contract_details AS
SELECT c.id AS contract_id, c.status, c.external_id, ct.firstname, ct.lastname, ct.company, ct.email,
       ct.reseller_id, c.create_timestamp, c.modify_timestamp
  FROM billing.contracts c LEFT JOIN billing.contacts ct ON ct.id = c.contact_id`);
  s.push(`CREATE ALGORITHM=MERGE DEFINER=${DEFINER_SIPWISE} SQL SECURITY DEFINER VIEW billing.v_active_contracts AS
SELECT contract_id, external_id, CONCAT_WS(' ', firstname, lastname) AS display_name, email, reseller_id
  FROM billing.v_contract_details WHERE status = 'active'`);
  s.push(`CREATE ALGORITHM=TEMPTABLE DEFINER=${DEFINER_ROOT} SQL SECURITY INVOKER VIEW billing.v_reseller_contract_counts AS
SELECT r.id AS reseller_id, r.name, COUNT(ct.id) AS contacts
  FROM billing.resellers r LEFT JOIN billing.contacts ct ON ct.reseller_id = r.id GROUP BY r.id, r.name`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} SQL SECURITY DEFINER VIEW billing.v_current_balances AS
SELECT cb.contract_id, cb.cash_balance, cb.free_time_balance, cb.start, cb.end
  FROM billing.contract_balances cb
 WHERE cb.end >= '2024-06-01 00:00:00'`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} SQL SECURITY DEFINER VIEW billing.v_journal_summary AS
SELECT resource_name, operation, COUNT(*) AS entries, MAX(timestamp) AS last_change
  FROM billing.journals GROUP BY resource_name, operation`);

  // billing: routines
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} FUNCTION billing.contract_display_name(in_contract_id INT UNSIGNED)
RETURNS varchar(255) CHARSET utf8mb3
READS SQL DATA
DETERMINISTIC
BEGIN
  DECLARE result varchar(255);
  SELECT display_name INTO result FROM billing.v_active_contracts WHERE contract_id = in_contract_id;
  RETURN COALESCE(result, CONCAT('contract #', in_contract_id));
END`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} FUNCTION billing.cash_balance_of(in_contract_id INT UNSIGNED)
RETURNS decimal(20,8)
READS SQL DATA
BEGIN
  RETURN (SELECT cash_balance FROM billing.contract_balances
           WHERE contract_id = in_contract_id ORDER BY end DESC LIMIT 1);
END`);
  s.push(`CREATE DEFINER=${DEFINER_SIPWISE} PROCEDURE billing.terminate_contract(IN in_contract_id INT UNSIGNED)
MODIFIES SQL DATA
COMMENT 'sets a contract to terminated; "quotes" and \\\\backslashes in a comment'
BEGIN
  UPDATE billing.contracts SET status = 'terminated', terminate_timestamp = NOW()
   WHERE id = in_contract_id;
  INSERT INTO billing.journals (operation, resource_name, resource_id, timestamp, username, content_format, content)
  VALUES ('update', 'contracts', in_contract_id, UNIX_TIMESTAMP(NOW(3)), CURRENT_USER(), 'json', '{"status":"terminated"}');
END`);
  s.push(`CREATE DEFINER=${DEFINER_ROOT} PROCEDURE billing.purge_journals(IN in_days INT)
MODIFIES SQL DATA
BEGIN
  DECLARE cutoff decimal(13,3);
  SET cutoff = UNIX_TIMESTAMP(NOW() - INTERVAL in_days DAY);
  DELETE FROM billing.journals WHERE timestamp < cutoff;
  SELECT ROW_COUNT() AS purged;
END`);
  s.push(`CREATE DEFINER=${DEFINER_ROOT} EVENT billing.ev_purge_journals
ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 03:30:00'
ON COMPLETION PRESERVE
DISABLE
COMMENT 'purges journal entries older than a year'
DO CALL billing.purge_journals(365)`);
  return s;
}
