import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLynisPointsLost, parseLynisReport } from './lynis-report.js';
import { BuildError } from '../errors.js';

const REPORT = `# Lynis Report
report_version_major=1
report_version_minor=0
report_datetime_start=2025-11-25 20:31:02
lynis_version=3.0.8
os=Linux
hostname=lbmaster
suggestion[]=LYNIS|This release is more than 4 months old. Check the website or GitHub to see if there is an update available.|-|-|
warning[]=FIRE-4512|iptables module(s) loaded, but no rules active|-|-|
suggestion[]=SSH-7408|Consider hardening SSH configuration|PermitRootLogin (set YES to (FORCED-COMMANDS-ONLY|NO|PROHIBIT-PASSWORD|WITHOUT-PASSWORD))|-|
details[]=KRNL-6000|sysctl|desc:Restrict core dumps;field:fs.suid_dumpable;prefval:0;value:2;|
lynis_tests_done=254
hardening_index=83
`;

test('the hardening index, version, test count, warnings and suggestions are read from the report', () => {
  const result = parseLynisReport(REPORT);
  assert.equal(result.version, '3.0.8');
  assert.equal(result.hardeningIndex, 83);
  assert.equal(result.testsPerformed, 254);
  assert.deepEqual(result.warnings, [{ test: 'FIRE-4512', text: 'iptables module(s) loaded, but no rules active' }]);
  assert.deepEqual(result.suggestions.map((s) => s.test), ['LYNIS', 'SSH-7408']);
  assert.equal(result.suggestions[1]!.text, 'Consider hardening SSH configuration');
});

test('a report cut off before the index (an audit that did not finish) is an error', () => {
  const cut = REPORT.split('\n').filter((line) => !line.startsWith('hardening_index')).join('\n');
  assert.throws(() => parseLynisReport(cut), (error) => error instanceof BuildError && /no hardening_index/.test(error.message));
});

test('an index outside 0-100 is an error, not a number taken on trust', () => {
  assert.throws(() => parseLynisReport(REPORT.replace('hardening_index=83', 'hardening_index=830')), /not a number from 0 to 100/);
  assert.throws(() => parseLynisReport(REPORT.replace('hardening_index=83', 'hardening_index=high')), /not a number from 0 to 100/);
});

test('lines the console may add around the report (carriage returns, blank lines) are ignored', () => {
  const result = parseLynisReport(`\r\n${REPORT.replaceAll('\n', '\r\n')}\r\n`);
  assert.equal(result.hardeningIndex, 83);
  assert.equal(result.warnings.length, 1);
});

test('points lost are summed per test from the log, largest loss first', () => {
  const log = [
    '2025-11-25 20:31:40 Performing test ID KRNL-6000 (Check sysctl key pairs in scan profile)',
    '2025-11-25 20:31:40 Hardening: assigned maximum number of hardening points for this item (1). Currently having 101 points (out of 120)',
    '2025-11-25 20:31:40 Hardening: assigned partial number of hardening points (0 of 1). Currently having 101 points (out of 121)',
    '2025-11-25 20:31:40 Hardening: assigned partial number of hardening points (0 of 1). Currently having 101 points (out of 122)',
    '2025-11-25 20:31:41 Performing test ID FIRE-4590 (Check firewall status)',
    '2025-11-25 20:31:41 Hardening: assigned partial number of hardening points (0 of 5). Currently having 101 points (out of 127)',
    '2025-11-25 20:31:42 Performing test ID USB-1000 (Check if USB storage is disabled)',
    '2025-11-25 20:31:42 Hardening: assigned maximum number of hardening points for this item (3). Currently having 104 points (out of 130)',
  ].join('\n');
  assert.deepEqual(parseLynisPointsLost(log), [
    { test: 'FIRE-4590', got: 0, max: 5 },
    { test: 'KRNL-6000', got: 0, max: 2 },
  ]);
});
