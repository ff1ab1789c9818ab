/** The base backends by recipe name (base.backend). */
import type { Recipe } from '../recipe/schema.js';
import type { BaseBackend } from './backend.js';
import { debianBackend } from './debian.js';

const BACKENDS: Record<Recipe['base']['backend'], BaseBackend> = {
  debian: debianBackend,
};

export function backendFor(name: Recipe['base']['backend']): BaseBackend {
  return BACKENDS[name];
}
