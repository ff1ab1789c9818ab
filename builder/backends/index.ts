/** The base backends by recipe name (base.backend). */
import type { Recipe } from '../recipe/schema.js';
import type { BaseBackend } from './backend.js';
import { debianBackend } from './debian.js';
import { elBackend } from './el.js';

const BACKENDS: Record<Recipe['base']['backend'], BaseBackend> = {
  debian: debianBackend,
  el: elBackend,
};

export function backendFor(name: Recipe['base']['backend']): BaseBackend {
  return BACKENDS[name];
}
