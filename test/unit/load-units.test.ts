import test from 'ava';
import { deferSecondaryKeys } from '../../src/load/deferred-keys.js';
import { splitStatements, statement } from '../../src/mysql/schema-sql.js';
import { isTriggerOn } from '../../src/load/objects.js';

test('isTriggerOn finds the table however the trigger names it', (t) => {
  t.true(isTriggerOn('CREATE DEFINER=`root`@`localhost` TRIGGER t1 AFTER INSERT ON `voip_domains` FOR EACH ROW BEGIN END', 'voip_domains'));
  t.true(isTriggerOn('CREATE TRIGGER t1 AFTER INSERT ON provisioning.voip_domains FOR EACH ROW SET @a = 1', 'voip_domains'));
  t.true(isTriggerOn('CREATE TRIGGER t1 BEFORE UPDATE ON `provisioning`.`voip_domains` FOR EACH ROW SET @a = 1', 'voip_domains'));
  t.true(isTriggerOn('CREATE TRIGGER t1 BEFORE DELETE ON `odd``name` FOR EACH ROW SET @a = 1', 'odd`name'));
  t.false(isTriggerOn('CREATE TRIGGER t1 AFTER INSERT ON `voip_domains2` FOR EACH ROW SET @a = 1', 'voip_domains'));
  t.false(isTriggerOn('CREATE VIEW v AS SELECT 1', 'voip_domains'));
});

const CDR = `CREATE TABLE \`cdr\` (
  \`id\` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  \`start_time\` decimal(13,3) NOT NULL,
  \`call_id\` varchar(255) NOT NULL,
  PRIMARY KEY (\`id\`,\`start_time\`),
  KEY \`callid\` (\`call_id\`),
  KEY \`start\` (\`start_time\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`;

test('deferSecondaryKeys moves plain keys into one ALTER and leaves valid DDL', (t) => {
  const d = deferSecondaryKeys(CDR, '`accounting`.`cdr`');
  t.false(d.create.includes('KEY `callid`'));
  t.regex(d.create, /PRIMARY KEY \(`id`,`start_time`\)\n\)/, 'no trailing comma before the closing parenthesis');
  t.is(d.addKeys, 'ALTER TABLE `accounting`.`cdr` ADD KEY `callid` (`call_id`), ADD KEY `start` (`start_time`)');
});

test('deferSecondaryKeys keeps the key an AUTO_INCREMENT column needs', (t) => {
  const partitioned = CDR.replace('PRIMARY KEY (`id`,`start_time`)', 'PRIMARY KEY (`start_time`,`id`)').replace('KEY `start` (`start_time`)', 'KEY `id` (`id`)');
  const d = deferSecondaryKeys(partitioned, '`accounting`.`cdr`');
  t.true(d.create.includes('KEY `id` (`id`)'), 'the AUTO_INCREMENT column keeps its index');
  t.is(d.addKeys, 'ALTER TABLE `accounting`.`cdr` ADD KEY `callid` (`call_id`)');
});

test('deferSecondaryKeys leaves tables with foreign keys alone', (t) => {
  const fk = CDR.replace('  KEY `start` (`start_time`)', '  KEY `start` (`start_time`),\n  CONSTRAINT `fk` FOREIGN KEY (`call_id`) REFERENCES `x` (`y`)');
  t.deepEqual(deferSecondaryKeys(fk, '`a`.`cdr`'), { create: fk, addKeys: null });
});

test('splitStatements is the inverse of statement(), comments and DELIMITER lines dropped', (t) => {
  const text = `-- schema of \`x\`\nSET NAMES utf8mb4;\nDELIMITER ;;\n${statement('CREATE TABLE a (b int)')}${statement("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END")}DELIMITER ;\n`;
  t.deepEqual(splitStatements(text), ['CREATE TABLE a (b int)', "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT ';'; END"]);
});
