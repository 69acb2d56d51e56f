/**
 * Freezes a parsed config all the way down (hosts, functions, vars, routes), so no part of the
 * gateway can change a setting another part already read. Only plain objects and arrays are
 * walked: the config holds nothing else.
 */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<string | symbol, unknown>)[key]);
  return Object.freeze(value);
}
