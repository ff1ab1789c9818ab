/**
 * A base backend builds the distribution root filesystem a recipe starts from.
 * Each backend is a small table of package names plus one build function.
 */
import type { Recipe } from '../recipe/schema.js';
import type { HostTool } from '../tools.js';

export interface RootfsRequest {
  base: Recipe['base'];
  /** SOURCE_DATE_EPOCH of the build: every timestamp in the output is clamped to it. */
  epoch: number;
  /** Where to write the root filesystem tarball. */
  tarball: string;
  onLine: (line: string) => void;
  /** Stops the backend's tools when the build stops. */
  signal: AbortSignal;
}

/** A problem at a recipe key, e.g. ['base', 'repositories', 'baseos', 'baseurl']. */
export interface BaseProblem {
  keyPath: Array<string | number>;
  problem: string;
}

export interface InstalledPackage {
  name: string;
  version: string;
}

export interface BaseBackend {
  name: Recipe['base']['backend'];
  /** Part of the rootfs key: bumped whenever the backend builds a different root for the same recipe. */
  version: number;
  /** Host tools buildRootfs runs. */
  tools: HostTool[];
  /** Logical package name → this distribution's name; names not listed are used as they are. */
  packageNames: Record<string, string>;
  /** Problems of the recipe's base this backend finds before anything runs. */
  baseProblems(base: Recipe['base']): BaseProblem[];
  buildRootfs(request: RootfsRequest): Promise<void>;
  /** The packages installed in an extracted root filesystem. */
  installedPackages(rootDir: string): Promise<InstalledPackage[]>;
}

/** Parses "name<TAB>version" lines, as dpkg-query and rpm print them with a query format. */
export function parsePackageList(text: string): InstalledPackage[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', version = ''] = line.split('\t');
      return { name, version };
    });
}

export function nativePackages(backend: BaseBackend, logical: readonly string[]): string[] {
  return logical.map((name) => backend.packageNames[name] ?? name);
}
