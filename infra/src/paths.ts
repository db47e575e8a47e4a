import { mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Where grokmap keeps local state: the embedded server's database, the
 * results store, checkpoints, reports. `GROKMAP_HOME` overrides the default
 * `.grokmap/` in the current directory (tests give each run its own).
 */
export function grokmapHome(env: NodeJS.ProcessEnv = process.env): string {
  // An empty GROKMAP_HOME counts as unset (it would otherwise resolve to the current directory).
  const home = path.resolve(env.GROKMAP_HOME || path.join(process.cwd(), '.grokmap'));
  mkdirSync(home, { recursive: true });
  return home;
}

export function homePath(...parts: string[]): string {
  return path.join(grokmapHome(), ...parts);
}
