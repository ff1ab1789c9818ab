/** A plan as `lbbuild plan` shows it: text for people, JSON for pipelines that split the graph over workers. */
import path from 'node:path';
import { stagesInOrder, type BuildPlan } from './plan.js';

export function planJson(plan: BuildPlan) {
  return {
    recipe: plan.loaded.file,
    layers: plan.loaded.layers.map((file) => path.relative(plan.loaded.projectRoot, file)),
    epoch: plan.epoch,
    targets: plan.targets.map((t) => t.name),
    cache: plan.cache.root,
    stages: stagesInOrder(plan.stages).map((stage) => ({
      name: stage.name,
      version: stage.version,
      key: stage.key,
      cached: plan.cached.has(stage.name),
      entry: plan.cache.entryDir(stage.name, stage.key),
      inputs: stage.inputs,
    })),
  };
}

export function formatPlan(plan: BuildPlan): string {
  const json = planJson(plan);
  const lines = [
    `recipe   ${json.layers.join(' → ')}`,
    `epoch    ${json.epoch.epoch} (from ${json.epoch.source})`,
    `targets  ${json.targets.join(', ')}`,
    `cache    ${json.cache}`,
    '',
  ];
  for (const stage of json.stages) {
    lines.push(`${stage.name.padEnd(10)} ${stage.key}  ${stage.cached ? 'cached' : 'to build'}`);
    const { parents, files, tools } = stage.inputs;
    for (const [name, key] of Object.entries(parents ?? {})) if (key) lines.push(`  after    ${name} ${key}`);
    for (const [file, sha256] of Object.entries(files ?? {})) lines.push(`  file     ${file}  sha256:${sha256.slice(0, 16)}…`);
    const toolList = Object.entries(tools ?? {}).map(([name, version]) => `${name} ${version}`);
    if (toolList.length) lines.push(`  tools    ${toolList.join(', ')}`);
  }
  const toBuild = json.stages.filter((s) => !s.cached).map((s) => s.name);
  lines.push('', toBuild.length ? `to build: ${toBuild.join(', ')}` : 'every stage is cached');
  return `${lines.join('\n')}\n`;
}
