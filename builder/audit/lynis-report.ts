/**
 * Reads Lynis's machine-readable report (lynis-report.dat): one `key=value` per line,
 * `key[]=value` for list entries; warnings and suggestions are `TEST-ID|text|details|solution|`.
 */
import { BuildError } from '../errors.js';

export interface LynisFinding {
  test: string;
  text: string;
}

export interface LynisResult {
  version: string;
  hardeningIndex: number;
  testsPerformed: number;
  warnings: LynisFinding[];
  suggestions: LynisFinding[];
}

export function parseLynisReport(report: string): LynisResult {
  const values = new Map<string, string>();
  const lists = new Map<string, string[]>();
  for (const line of report.split('\n')) {
    const match = /^([a-z0-9_]+)(\[\])?=(.*)$/i.exec(line.trim());
    if (!match) continue;
    const [, key, list, value] = match as unknown as [string, string, string | undefined, string];
    if (list) lists.set(key, [...(lists.get(key) ?? []), value]);
    else values.set(key, value);
  }
  const required = (key: string) => {
    const value = values.get(key);
    if (value === undefined || value === '') throw new BuildError(`the Lynis report has no ${key}: the audit did not finish`);
    return value;
  };
  const hardeningIndex = Number(required('hardening_index'));
  if (!Number.isInteger(hardeningIndex) || hardeningIndex < 0 || hardeningIndex > 100) {
    throw new BuildError(`the Lynis report's hardening_index "${values.get('hardening_index')}" is not a number from 0 to 100`);
  }
  const findings = (key: string) =>
    (lists.get(key) ?? []).map((entry) => {
      const [test = '', text = ''] = entry.split('|');
      return { test, text };
    });
  return {
    version: required('lynis_version'),
    hardeningIndex,
    testsPerformed: Number(values.get('lynis_tests_done') ?? 0),
    warnings: findings('warning'),
    suggestions: findings('suggestion'),
  };
}

/** Hardening points a test could have given and did not: what to harden next. */
export interface LynisPointsLost {
  test: string;
  got: number;
  max: number;
}

/**
 * Reads Lynis's log (lynis.log): each "Performing test ID X" line opens a test, each
 * "assigned partial number of hardening points (G of M)" line inside it loses M - G.
 */
export function parseLynisPointsLost(log: string): LynisPointsLost[] {
  const lost = new Map<string, LynisPointsLost>();
  let test = 'unknown';
  for (const line of log.split('\n')) {
    const started = /Performing test ID (\S+)/.exec(line);
    if (started) test = started[1]!;
    const partial = /assigned partial number of hardening points \((\d+) of (\d+)\)/.exec(line);
    if (!partial) continue;
    const entry = lost.get(test) ?? { test, got: 0, max: 0 };
    entry.got += Number(partial[1]);
    entry.max += Number(partial[2]);
    lost.set(test, entry);
  }
  return [...lost.values()].sort((a, b) => b.max - b.got - (a.max - a.got) || a.test.localeCompare(b.test));
}
