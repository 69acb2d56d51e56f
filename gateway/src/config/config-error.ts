/** A configuration the gateway cannot run with; the message names the field, where it came from and the fix. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
