/**
 * Tidy scopes: every tensor made while a scope is open is tracked, and closing the scope
 * disposes those that are neither returned nor kept. Scopes are synchronous (as in tfjs),
 * so async work must not straddle one.
 */
import type { Tensor } from './tensor';

const scopes: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

/** Removes t from every open scope: it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>, TensorClass: Function): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof TensorClass) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen, TensorClass);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen, TensorClass);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, out, seen, TensorClass);
  }
}

/** `made`, when given, receives the tensors made in the scope that fn returned. */
export function runScope<T>(fn: () => T, TensorClass: Function, made?: Tensor[]): T {
  if (typeof fn !== 'function') throw new TypeError('tidy: argument fn must be a function');
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError('tidy: fn must be synchronous (it returned a Promise); await outside the tidy');
    }
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  const returned = new Set<Tensor>();
  collect(result, returned, new Set(), TensorClass);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) {
      if (parent) parent.add(t);
      made?.push(t);
    } else {
      t.dispose();
    }
  }
  return result;
}
