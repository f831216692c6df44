/**
 * Rows of accounting.cdr and its monthly archive. Evaluating ~80 pseudo-random expressions per
 * row cost more than storing the row, so the expensive values live in two small pools (MEMORY
 * tables): "parties" (a caller or callee: subscriber uuid, number, domain, ip, ...) and "calls"
 * (type, status, costs, rating and export state). Each CDR joins one source party, one
 * destination party and one call, picked by different prime moduli of the sequence number, so a
 * combination repeats only every ~10^11 rows; ids, times and call ids are computed per row.
 */
import { ARCHIVE_EPOCH, ARCHIVE_TABLE, CDR_COLUMNS, CDR_EPOCH, CDR_SPAN_SECONDS } from './schema.js';
import { pick, subscriberDomain, subscriberUser, trickyMb3, uuidExpr, type SandboxScale } from './data.js';

const PARTY_PRIMES = [
  [509, 503],
  [2039, 2029],
  [8191, 8179],
] as const;
const CALL_PRIMES = [1021, 4093, 16381, 65521] as const;

export interface CdrPools {
  db: string;
  parties: number;
  partiesDst: number;
  calls: number;
}

export function cdrPools(db: string, scale: SandboxScale): CdrPools {
  const [parties, partiesDst] = PARTY_PRIMES.find(([p]) => p >= scale.cdr / 50) ?? PARTY_PRIMES[PARTY_PRIMES.length - 1]!;
  const calls = CALL_PRIMES.find((p) => p >= scale.cdr / 4) ?? CALL_PRIMES[CALL_PRIMES.length - 1]!;
  return { db, parties, partiesDst, calls };
}

const CALL_TYPES = ['call', 'cfu', 'cft', 'cfb', 'cfna', 'cfs', 'sms', 'cfr', 'cfo'];
const CALL_STATUSES = ['ok', 'busy', 'noanswer', 'cancel', 'offline', 'timeout', 'other', 'failed'];
const CALL_CODES = ['200', '486', '480', '487', '404', '408', '500', '503'];
const enumOf = (values: string[]): string => `enum(${values.map((v) => `'${v}'`).join(',')})`;

/** Statements creating and filling the pools (run once, before any batch). */
export function cdrPoolSql(pools: CdrPools, scale: SandboxScale): string[] {
  const { db } = pools;
  const nsub = scale.subscribers;
  const costCols: string[] = [];
  const costExprs: string[] = [];
  for (const side of ['source', 'destination']) {
    let k = 0;
    for (const party of ['carrier', 'reseller', 'customer']) {
      k++;
      const rnd = `((i.r${side === 'source' ? 1 : 2} DIV ${k * 13}) + i.r3 * ${k})`;
      costCols.push(
        `${side}_${party}_cost decimal(14,6) NOT NULL`,
        `${side}_${party}_free_time int unsigned NOT NULL`,
        `${side}_${party}_billing_fee_id int unsigned NULL`,
        `${side}_${party}_billing_zone_id int unsigned NULL`,
      );
      costExprs.push(
        `IF(i.rs = 1 AND i.cs = 0, (${rnd} MOD 5000000) * 0.000001 * ${k}, 0)`,
        `IF(i.rs = 1 AND ${rnd} MOD 5 = 0, ${rnd} MOD 60, 0)`,
        `IF(i.rs = 1, 1 + ${rnd} MOD 500, NULL)`,
        `IF(i.rs = 1, 1 + ${rnd} MOD 40, NULL)`,
      );
    }
  }
  return [
    `CREATE TABLE ${db}.parties (
      id int unsigned NOT NULL PRIMARY KEY, local tinyint NOT NULL, user_id char(36) NOT NULL,
      provider_id varchar(16) NOT NULL, ext_sub varchar(32) NULL, ext_contract varchar(32) NULL,
      account_id int unsigned NOT NULL, user varchar(32) NOT NULL, domain varchar(64) NOT NULL,
      cli varchar(64) NOT NULL, clir tinyint NOT NULL, ip varchar(64) NOT NULL, user_out varchar(64) NOT NULL,
      lnp_prefix varchar(8) NOT NULL, lnp_type varchar(16) NULL, billing_profile_id int unsigned NULL,
      cc_quota int unsigned NULL, cc_count int unsigned NULL, cc_count_customer int unsigned NULL,
      dialed varchar(64) NOT NULL
    ) ENGINE=MEMORY DEFAULT CHARSET=utf8mb3`,
    `INSERT INTO ${db}.parties
     SELECT i.id, i.l, IF(i.l, ${uuidExpr('i.su')}, '0'),
       IF(i.l, CAST(1 + i.su MOD 3 AS CHAR), CAST(10 + i.r1 MOD 4 AS CHAR)),
       IF(i.l AND i.r1 MOD 10 <> 0, CONCAT('ext-', i.su), NULL),
       IF(i.l AND i.r2 MOD 10 <> 1, CONCAT('C', 100000 + i.su DIV 2), NULL),
       IF(i.l, 4 + i.su DIV 2, 0), i.user, i.domain,
       IF(i.r1 MOD 20 = 0, CONCAT('+', i.user), i.user), IF(i.r2 MOD 25 = 0, 1, 0),
       CONCAT_WS('.', IF(i.l, 10, 203), (i.r1 >> 16) & 255, (i.r1 >> 8) & 255, 1 + i.r1 MOD 254),
       CONCAT('+', i.user), IF(i.r2 MOD 50 = 0, '4399', ''), IF(i.r2 MOD 50 = 0, 'ported', NULL),
       IF(i.l, 1 + i.su MOD 3, NULL),
       IF(i.l AND i.r1 MOD 10 <> 3, 10, NULL), IF(i.l AND i.r1 MOD 10 <> 3, 1 + i.r1 MOD 10, NULL),
       IF(i.l AND i.r1 MOD 10 <> 3, 1 + i.r2 MOD 10, NULL),
       IF(i.l, CONCAT('0', SUBSTRING(i.user, 3)), CONCAT('00', i.user))
     FROM (
       SELECT g.*,
         IF(g.l, ${subscriberUser('g.su')}, CONCAT(IF(g.r3 MOD 2 = 0, '43', '49'), 660 + g.r1 MOD 20, LPAD(g.r2 MOD 10000000, 7, '0'))) AS user,
         IF(g.l, ${subscriberDomain('g.su')}, CONCAT('peer', g.r1 MOD 4, '.carrier.example')) AS domain
       FROM (
         SELECT seq AS id, CRC32(seq + 1) AS r1, CRC32(seq + 7777777) AS r2, CRC32(seq * 3 + 1) AS r3,
           CRC32(seq + 99991) MOD ${nsub} AS su, CRC32(seq * 5 + 11) MOD 10 < 6 AS l
         FROM seq_0_to_${pools.parties - 1}
       ) g
     ) i`,
    `CREATE TABLE ${db}.calls (
      id int unsigned NOT NULL PRIMARY KEY,
      call_type ${enumOf(CALL_TYPES)} NOT NULL, call_status ${enumOf(CALL_STATUSES)} NOT NULL, call_code char(3) NOT NULL,
      rs tinyint NOT NULL, es tinyint NOT NULL, ms decimal(4,3) NOT NULL, setup int NOT NULL, duration decimal(13,3) NOT NULL,
      peer_auth_user varchar(32) NULL, peer_auth_realm varchar(64) NULL, header_diversion varchar(255) NULL,
      has_pai tinyint NOT NULL, header_u2u varchar(16) NULL, fci varchar(32) NULL,
      ${costCols.join(', ')},
      rated_delay int NOT NULL, export_delay int NOT NULL, update_delay int NOT NULL, update_delay_unexported int NOT NULL,
      rating_status enum('unrated','ok','failed') NOT NULL, export_status enum('unexported','ok','failed') NOT NULL
    ) ENGINE=MEMORY DEFAULT CHARSET=utf8mb3`,
    `INSERT INTO ${db}.calls
     SELECT i.id,
       IF(i.r2 MOD 20 < 17, 'call', ${pick('i.r2 DIV 20', CALL_TYPES.slice(1))}),
       ${pick('i.cs', CALL_STATUSES)}, ${pick('i.cs', CALL_CODES)},
       i.rs, i.es, (i.r1 MOD 1000) * 0.001, IF(i.cs = 0, 2 + i.r2 MOD 20, 0),
       IF(i.cs = 0, (i.r2 MOD 1800000) * 0.001, 0),
       IF(i.r1 MOD 10 <> 0, CONCAT('peeruser', i.r1 MOD 4), NULL),
       IF(i.r1 MOD 10 <> 0, CONCAT('peer', i.r1 MOD 4, '.carrier.example'), NULL),
       IF(i.r3 MOD 7 = 0, ${trickyMb3('i.r3 DIV 7')}, NULL),
       i.r1 MOD 3 = 0, IF(i.r2 MOD 100 = 0, HEX(i.r1), NULL),
       IF(i.r3 MOD 200 = 0, CONCAT('fci;seq=', i.id), NULL),
       ${costExprs.join(',\n       ')},
       300 + i.r3 MOD 600, 1800 + i.r2 MOD 1800,
       IF(i.es <> 0, 1805 + i.r2 MOD 1800, IF(i.rs <> 0, 305 + i.r3 MOD 600, 60)),
       IF(i.rs <> 0, 305 + i.r3 MOD 600, 60),
       ${pick('i.rs', ['unrated', 'ok', 'failed'])}, ${pick('i.es', ['unexported', 'ok', 'failed'])}
     FROM (
       SELECT h.*, IF(h.rs = 1, IF(CRC32(h.id * 11) MOD 997 = 0, 2, 1), 0) AS es
       FROM (
         SELECT seq AS id, CRC32(seq) AS r1, CRC32(seq + 7777777) AS r2, CRC32(seq * 3 + 1) AS r3,
           IF(CRC32(seq * 5 + 2) MOD 10 < 7, 0, 1 + (CRC32(seq * 5 + 2) DIV 10) MOD 7) AS cs,
           IF(CRC32(seq * 7 + 3) MOD 50 = 0, 2, IF(CRC32(seq * 7 + 3) MOD 50 < 4, 0, 1)) AS rs
         FROM seq_0_to_${pools.calls - 1}
       ) h
     ) i`,
  ];
}

export interface CdrBatch {
  table: string;
  idOffset: number;
  total: number;
  epoch: number;
  span: number;
  from: number;
  to: number;
  /** Rows after this sequence number are not exported yet. */
  exportedUpTo: number;
}

/** Planned batches for one table (accounting.cdr or its archive), in id order. */
export function cdrBatches(scale: SandboxScale, table: 'cdr' | typeof ARCHIVE_TABLE, batchRows = 100_000): CdrBatch[] {
  const p =
    table === 'cdr'
      ? { idOffset: scale.archive, total: scale.cdr, epoch: CDR_EPOCH, span: CDR_SPAN_SECONDS, tail: 0.02 }
      : { idOffset: 0, total: scale.archive, epoch: ARCHIVE_EPOCH, span: 30 * 86400, tail: 0 };
  const out: CdrBatch[] = [];
  for (let from = 1; from <= p.total; from += batchRows) {
    out.push({
      table,
      idOffset: p.idOffset,
      total: p.total,
      epoch: p.epoch,
      span: p.span,
      from,
      to: Math.min(p.total, from + batchRows - 1),
      exportedUpTo: Math.floor(p.total * (1 - p.tail)),
    });
  }
  return out;
}

/** INSERT ... SELECT for one batch of CDRs. */
export function cdrBatchSql(pools: CdrPools, b: CdrBatch): string {
  const t = `(${b.epoch} + ((s.seq - 1) * ${b.span}) DIV ${b.total})`;
  const unexported = `s.seq > ${b.exportedUpTo}`;
  const e: Record<string, string> = {
    id: `${b.idOffset} + s.seq`,
    update_time: `FROM_UNIXTIME(${t} + IF(${unexported}, c.update_delay_unexported, c.update_delay))`,
    destination_user_dialed: 'dst.dialed',
    destination_user_in: 'dst.user',
    peer_auth_user: 'IF(src.local, NULL, c.peer_auth_user)',
    peer_auth_realm: 'IF(src.local, NULL, c.peer_auth_realm)',
    call_type: 'c.call_type',
    call_status: 'c.call_status',
    call_code: 'c.call_code',
    init_time: `${t} + c.ms`,
    start_time: `${t} + c.ms + c.setup`,
    duration: 'c.duration',
    call_id: `CONCAT(LPAD(HEX(CRC32(s.seq)), 8, '0'), '-', s.seq, '@', src.ip)`,
    header_diversion: 'c.header_diversion',
    header_pai: `IF(c.has_pai, CONCAT('"', src.user, '" <sip:', src.user, '@', src.domain, '>'), NULL)`,
    header_u2u: 'c.header_u2u',
    furnished_charging_info: 'c.fci',
    rated_at: `IF(c.rs = 0, NULL, FROM_UNIXTIME(${t} + c.rated_delay))`,
    rating_status: 'c.rating_status',
    exported_at: `IF(${unexported} OR c.es = 0, NULL, FROM_UNIXTIME(${t} + c.export_delay))`,
    export_status: `IF(${unexported} AND c.es <> 0, 'unexported', c.export_status)`,
  };
  for (const [side, p] of [['source', 'src'], ['destination', 'dst']] as const) {
    Object.assign(e, {
      [`${side}_user_id`]: `${p}.user_id`,
      [`${side}_provider_id`]: `${p}.provider_id`,
      [`${side}_external_subscriber_id`]: `${p}.ext_sub`,
      [`${side}_external_contract_id`]: `${p}.ext_contract`,
      [`${side}_account_id`]: `${p}.account_id`,
      [`${side}_user`]: `${p}.user`,
      [`${side}_domain`]: `${p}.domain`,
      [`${side}_cli`]: `${p}.cli`,
      [`${side}_clir`]: `${p}.clir`,
      [`${side}_ip`]: `${p}.ip`,
      [`${side}_user_out`]: `${p}.user_out`,
      [`${side}_lnp_prefix`]: `${p}.lnp_prefix`,
      [`${side}_lnp_type`]: `${p}.lnp_type`,
      [`${side}_billing_profile_id`]: `${p}.billing_profile_id`,
      [`${side}_concurrent_calls_quota`]: `${p}.cc_quota`,
      [`${side}_concurrent_calls_count`]: `${p}.cc_count`,
      [`${side}_concurrent_calls_count_customer`]: `${p}.cc_count_customer`,
    });
    for (const party of ['carrier', 'reseller', 'customer']) {
      for (const suffix of ['cost', 'free_time', 'billing_fee_id', 'billing_zone_id']) {
        e[`${side}_${party}_${suffix}`] = `c.${side}_${party}_${suffix}`;
      }
    }
  }
  const columns = CDR_COLUMNS.map(([name]) => name);
  const missing = columns.filter((c) => !(c in e));
  if (missing.length > 0) throw new Error(`no generator for cdr columns: ${missing.join(', ')}`);
  return `INSERT INTO accounting.\`${b.table}\` (${columns.map((c) => `\`${c}\``).join(', ')})
SELECT STRAIGHT_JOIN ${columns.map((c) => e[c]).join(',\n  ')}
FROM seq_${b.from}_to_${b.to} s
  JOIN ${pools.db}.parties src ON src.id = s.seq MOD ${pools.parties}
  JOIN ${pools.db}.parties dst ON dst.id = s.seq MOD ${pools.partiesDst}
  JOIN ${pools.db}.calls c ON c.id = s.seq MOD ${pools.calls}`;
}
