/**
 * Errors the library throws. Only the CLI turns them into exit codes:
 * a UserError (bad recipe, bad argument) exits 2, anything else exits 1.
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

/** The build itself failed (a tool failed, the disk is full, …). */
export class BuildError extends Error {
  override name = 'BuildError';
}

/** Host tools the build needs are not installed. */
export class MissingToolsError extends BuildError {
  override name = 'MissingToolsError';
  constructor(readonly missing: Array<{ tool: string; debianPackage: string }>) {
    const packages = [...new Set(missing.map((m) => m.debianPackage))].sort();
    super(
      `missing host tools: ${missing.map((m) => `${m.tool} (Debian package ${m.debianPackage})`).join(', ')}\n` +
        `install them with: apt-get install ${packages.join(' ')}`,
    );
  }
}
