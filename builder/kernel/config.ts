/**
 * Kernel config fragments: what each one asks for, and which of those requests the
 * final .config did not honour (Kconfig silently drops an option whose dependencies
 * are not met, so the build checks every one).
 */
import { UserError } from '../errors.js';

export interface ConfigRequest {
  file: string;
  line: number;
  symbol: string;
  /** y, m, n, a number or a quoted string, as written in .config. */
  wanted: string;
}

export interface UnmetRequest extends ConfigRequest {
  actual: string;
}

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

export function parseFragments(fragments: Array<{ file: string; text: string }>): ConfigRequest[] {
  const requests = new Map<string, ConfigRequest>();
  for (const { file, text } of fragments) {
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      const set = SET.exec(line);
      const unset = UNSET.exec(line);
      const match = set ? { symbol: set[1]!, wanted: set[2]! } : unset ? { symbol: unset[1]!, wanted: 'n' } : undefined;
      // A later fragment overrides an earlier one, as Kconfig reads them.
      if (match) requests.set(match.symbol, { file, line: index + 1, ...match });
    });
  }
  return [...requests.values()];
}

export function unmetOptions(requests: ConfigRequest[], dotConfig: string): UnmetRequest[] {
  const actual = new Map<string, string>();
  for (const line of dotConfig.split('\n')) {
    const set = SET.exec(line);
    if (set) actual.set(set[1]!, set[2]!);
  }
  return requests
    .map((r) => ({ ...r, actual: actual.get(r.symbol) ?? 'n' }))
    .filter((r) => r.actual !== r.wanted);
}

/** Options of the recipe's fragments that did not reach the final .config. */
export class KernelConfigError extends UserError {
  override name = 'KernelConfigError';
  constructor(readonly unmet: UnmetRequest[]) {
    const lines = unmet.map((u) => `  ${u.file}:${u.line}: ${u.symbol}=${u.wanted}, but the kernel's config has ${u.symbol}=${u.actual}`);
    super(
      `kernel.build.fragments: ${unmet.length} option(s) did not take effect; each needs options it depends on (see its "depends on" in Kconfig) or is not in this kernel version:\n${lines.join('\n')}`,
    );
  }
}
