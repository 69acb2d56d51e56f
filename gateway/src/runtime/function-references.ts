/**
 * Checks that every function the config refers to can exist, once the names provided in
 * process (createGateway) are known: errors name the field, like the rest of the config.
 */
import { ConfigError } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';

export function checkFunctionReferences(config: GatewayConfig, inProcess: readonly string[]): void {
  const problems: string[] = [];
  for (const [name, fn] of Object.entries(config.functions)) {
    if (!fn.entry && !config.deployDir && !inProcess.includes(name)) {
      problems.push(`field "functions.${name}.entry": give the function's source file, or set "deployDir" where its versions are deployed`);
    }
  }
  // A route may name a function deployed later, but only when there is a deploy folder.
  if (!config.deployDir) {
    const named: [string, unknown][] = config.routes.map((r, i) => [`routes.${i}.function`, (r as { function?: unknown } | null)?.function]);
    named.push(['defaultRoute.function', config.defaultRoute?.function]);
    for (const [where, name] of named) {
      if (typeof name === 'string' && !(name in config.functions) && !inProcess.includes(name)) {
        problems.push(`field "${where}": no function named "${name}": define it under "functions" or set "deployDir" where it is deployed`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
}
