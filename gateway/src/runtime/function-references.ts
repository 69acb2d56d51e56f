/**
 * Where app/start-gateway.ts finds the function reference check; the check itself is one of
 * the config's cross-field checks (config/checks.ts). Kept as a pointer until the wiring
 * imports it from config/ directly, then this file goes.
 */
export { checkFunctionReferences } from '../config/checks.js';
