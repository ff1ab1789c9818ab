/**
 * Loads a recipe: parses YAML with positions, follows `extends:` chains, merges the
 * layers and validates the result against the schema. Every problem becomes a
 * RecipeError naming the file, line, column and key path.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { RecipeError, UserError } from '../errors.js';
import { RecipeSchema, type Recipe } from './schema.js';
import { projectRootOf, resolveInside } from '../paths.js';

export interface LoadedRecipe {
  recipe: Recipe;
  /** The recipe file that was asked for. */
  file: string;
  /** Root that overlay paths are resolved in: the folder holding the recipe's `recipes/` folder. */
  projectRoot: string;
  /** Every file of the `extends:` chain, the asked-for one first. */
  layers: string[];
  /** An error at the recipe line that sets `keyPath` (the nearest layer that does), e.g. ['overlays', 1]. */
  errorAt(keyPath: Array<string | number>, problem: string): RecipeError;
}

/** Mappings whose form is chosen by one key: a layer that changes it replaces the parent's mapping. */
const FORM_KEYS: Record<string, string> = { kernel: 'source' };

interface Layer {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  data: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, discriminator: true });
const validate = ajv.compile<Recipe>(RecipeSchema);

export async function loadRecipe(file: string): Promise<LoadedRecipe> {
  const absolute = path.resolve(file);
  const projectRoot = projectRootOf(absolute);
  const layers = await readLayers(absolute, projectRoot);
  const merged = layers.reduceRight<Record<string, unknown>>((acc, layer) => mergeLayer(acc, layer.data), {});
  delete merged.extends;
  if (!validate(merged)) throw toRecipeError(validate.errors ?? [], layers);
  return {
    recipe: merged,
    file: absolute,
    projectRoot,
    layers: layers.map((l) => l.file),
    errorAt: (keyPath, problem) => locate(layers, keyPath.map(String), problem),
  };
}

async function readLayers(file: string, projectRoot: string): Promise<Layer[]> {
  const layers: Layer[] = [];
  for (let current: string | undefined = file; current; ) {
    if (layers.some((l) => l.file === current)) {
      throw new UserError(`${file}: extends: cycle through ${current}; remove one of the extends: lines`);
    }
    const layer = await readLayer(current, layers.at(-1));
    layers.push(layer);
    const parent = layer.data.extends;
    if (parent === undefined) break;
    if (typeof parent !== 'string') throw atPath(layer, ['extends'], 'expected a relative path to another recipe file');
    try {
      current = resolveInside(projectRoot, path.resolve(path.dirname(current), parent));
    } catch (error) {
      throw atPath(layer, ['extends'], (error as Error).message);
    }
  }
  return layers;
}

/** Reads one recipe file; a missing parent is blamed on the `extends:` line of the child that names it. */
async function readLayer(file: string, child?: Layer): Promise<Layer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = `cannot read recipe ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`;
    if (child) throw atPath(child, ['extends'], `${reason}; point extends: at an existing recipe file`);
    throw new UserError(reason);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new RecipeError(file, pos.line, pos.col, '', `YAML syntax error: ${syntax.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new RecipeError(file, 1, 1, '', 'expected a mapping of recipe keys (name, version, base, …)');
  }
  return { file, doc, lines, data: data as Record<string, unknown> };
}

/** A layer over its parent: deepMerge, except that a mapping whose form key changes is replaced whole. */
function mergeLayer(parent: Record<string, unknown>, child: Record<string, unknown>): Record<string, unknown> {
  const merged = deepMerge(parent, child);
  for (const [key, formKey] of Object.entries(FORM_KEYS)) {
    const [before, after] = [parent[key], child[key]];
    if (isPlainObject(before) && isPlainObject(after) && formKey in after && after[formKey] !== before[formKey]) merged[key] = after;
  }
  return merged;
}

/** Objects merge key by key, lists append (without repeating an item), other values are replaced. */
export function deepMerge(parent: Record<string, unknown>, child: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...parent };
  for (const [key, value] of Object.entries(child)) {
    const base = out[key];
    if (isPlainObject(base) && isPlainObject(value)) out[key] = deepMerge(base, value);
    else if (Array.isArray(base) && Array.isArray(value)) out[key] = [...base, ...value.filter((v) => !base.includes(v))];
    else out[key] = value;
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function toRecipeError(errors: ErrorObject[], layers: Layer[]): RecipeError {
  // A union reports one error per branch, then its own: keep only the union's.
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const candidates = errors.filter((e) => e.keyword === 'anyOf' || !unionPaths.has(e.instancePath));
  // The most specific problem first: a wrong value before a key missing somewhere above it.
  const specificity = (e: ErrorObject) => (e.keyword === 'required' ? -1 : e.instancePath.split('/').length);
  const first = [...candidates].sort((a, b) => specificity(b) - specificity(a))[0] ?? errors[0]!;
  const keyPath = first.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const description = (first.parentSchema as { description?: string } | undefined)?.description;
  switch (first.keyword) {
    case 'additionalProperties': {
      const key = String(first.params.additionalProperty);
      const allowed = Object.keys((first.parentSchema as { properties?: object }).properties ?? {}).join(', ');
      return locate(layers, [...keyPath, key], `unknown key "${key}"; expected one of: ${allowed}`, true);
    }
    case 'required': {
      const key = String(first.params.missingProperty);
      const what = (first.parentSchema as { properties?: Record<string, { description?: string }> }).properties?.[key]?.description;
      return locate(layers, keyPath, `missing required key "${key}"${what ? ` (${what})` : ''}`);
    }
    case 'enum':
    case 'const':
      return locate(layers, keyPath, `expected ${description ?? first.message}`);
    default:
      return locate(layers, keyPath, `${first.message}${description ? `; expected ${description}` : ''}`);
  }
}

/** Blames the nearest layer that sets the path (or the longest part of it). */
function locate(layers: Layer[], keyPath: string[], problem: string, atKey = false): RecipeError {
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const prefix = keyPath.slice(0, depth);
    const layer = layers.find((l) => l.doc.hasIn(prefix) || depth === 0);
    if (layer) return atPath(layer, prefix, problem, atKey && depth === keyPath.length, keyPath);
  }
  return atPath(layers[0]!, [], problem);
}

function atPath(layer: Layer, keyPath: string[], problem: string, atKey = false, shownPath = keyPath): RecipeError {
  const offset = nodeOffset(layer.doc.contents, keyPath, atKey) ?? 0;
  const { line, col } = layer.lines.linePos(offset);
  return new RecipeError(layer.file, line, col, shownPath.join('.'), problem);
}

function nodeOffset(node: unknown, keyPath: string[], atKey: boolean): number | undefined {
  let current = node;
  for (const [i, segment] of keyPath.entries()) {
    if (isMap(current)) {
      const pair = current.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) return rangeStart(current);
      if (atKey && i === keyPath.length - 1) return rangeStart(pair.key);
      current = pair.value;
    } else if (isSeq(current)) {
      current = current.items[Number(segment)];
    } else {
      return rangeStart(current);
    }
  }
  return rangeStart(current);
}

const rangeStart = (node: unknown): number | undefined => (node as Node | null)?.range?.[0];
