import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFragments, unmetOptions } from './config.js';

const fragments = [
  { file: 'recipes/kernel/a.config', text: '# comment\nCONFIG_NET=y\n# CONFIG_SOUND is not set\nCONFIG_IP_VS=m\nCONFIG_LOCALVERSION="-lbbuild"\n' },
  { file: 'recipes/kernel/b.config', text: 'CONFIG_IP_VS=y\nCONFIG_DRM=n\n' },
];

test('fragments: every setting and unsetting, the later fragment winning', () => {
  const requests = parseFragments(fragments);
  assert.deepEqual(
    requests.map((r) => [r.symbol, r.wanted, `${r.file}:${r.line}`]),
    [
      ['CONFIG_NET', 'y', 'recipes/kernel/a.config:2'],
      ['CONFIG_SOUND', 'n', 'recipes/kernel/a.config:3'],
      ['CONFIG_IP_VS', 'y', 'recipes/kernel/b.config:1'],
      ['CONFIG_LOCALVERSION', '"-lbbuild"', 'recipes/kernel/a.config:5'],
      ['CONFIG_DRM', 'n', 'recipes/kernel/b.config:2'],
    ],
  );
});

test('unmet options: a dropped request is reported with what the .config has instead', () => {
  const dotConfig = 'CONFIG_NET=y\nCONFIG_IP_VS=m\nCONFIG_LOCALVERSION="-lbbuild"\n# CONFIG_DRM is not set\nCONFIG_SOUND=y\n';
  const unmet = unmetOptions(parseFragments(fragments), dotConfig);
  assert.deepEqual(
    unmet.map((u) => [u.symbol, u.wanted, u.actual]),
    [
      ['CONFIG_SOUND', 'n', 'y'],
      ['CONFIG_IP_VS', 'y', 'm'],
    ],
  );
});

test('unmet options: a symbol missing from the .config counts as n', () => {
  const unmet = unmetOptions(parseFragments([{ file: 'f.config', text: 'CONFIG_XEN=y\n# CONFIG_KEXEC is not set\n' }]), '');
  assert.deepEqual(unmet.map((u) => u.symbol), ['CONFIG_XEN']);
});
