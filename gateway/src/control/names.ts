/**
 * Names the control plane turns into file names and Redis keys: gateway ids (the config's
 * gatewayId pattern) and secret names (the pattern of vars names, since secrets reach the
 * function's env beside them).
 */
import { ControlPlaneError } from './control-plane.js';

const GATEWAY_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function checkGatewayId(id: string): void {
  // "." and ".." fit the pattern but are not file names.
  if (typeof id !== 'string' || !GATEWAY_ID.test(id) || id === '.' || id === '..') {
    throw new ControlPlaneError(`invalid gateway id "${String(id)}": letters, digits, . _ : - (at most 100), as gatewayId`);
  }
}

export function checkSecretName(key: string): void {
  if (typeof key !== 'string' || !SECRET_NAME.test(key)) {
    throw new ControlPlaneError(`invalid secret name "${String(key)}": letters, digits and _ (at most 128), not starting with a digit, e.g. DB_PASSWORD`);
  }
}
