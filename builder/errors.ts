/**
 * Errors the library throws. Only the CLI turns them into exit codes:
 * a UserError (bad recipe, bad argument, missing host tool) exits 2, anything else exits 1.
 */

/** The input is wrong; the message says where and how to fix it. */
export class UserError extends Error {
  override name = 'UserError';
}

/** A recipe file does not parse or does not match the schema. */
export class RecipeError extends UserError {
  override name = 'RecipeError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly keyPath: string,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${keyPath ? `${keyPath}: ` : ''}${problem}`);
  }
}

/** Everything a plan found wrong with a recipe, each at its line; none of it needed a build to find. */
export class PlanError extends UserError {
  override name = 'PlanError';
  constructor(readonly problems: RecipeError[]) {
    super(problems.length === 1 ? problems[0]!.message : `${problems.length} problems in the recipe:\n${problems.map((p) => `  ${p.message}`).join('\n')}`);
  }
}

/** The build was stopped: Ctrl-C, a kill, or another stage's failure. */
export class StoppedError extends Error {
  override name = 'StoppedError';
}

/** The build itself failed (a tool failed, the disk is full, …). */
export class BuildError extends Error {
  override name = 'BuildError';
}

/** Host tools the build needs are not installed (found by the plan, before any stage runs). */
export class MissingToolsError extends UserError {
  override name = 'MissingToolsError';
  constructor(readonly missing: Array<{ tool: string; debianPackage: string }>) {
    const packages = [...new Set(missing.map((m) => m.debianPackage))].sort();
    super(
      `missing host tools: ${missing.map((m) => `${m.tool} (Debian package ${m.debianPackage})`).join(', ')}\n` +
        `install them with: apt-get install ${packages.join(' ')}`,
    );
  }
}
