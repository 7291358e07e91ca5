/** Option value parsers for commander: a bad value is reported with the option's name. */
import { InvalidArgumentError } from 'commander';
import { setBackend } from '../backend';

export function int(min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min} (got '${v}')`);
    return n;
  };
}

export function num(min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}] (got '${v}')`);
    }
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')} (got '${v}')`);
    return v as T;
  };
}

/** Applies --device (cpu | cuda) when given. */
export function applyDevice(device: string | undefined): void {
  if (device !== undefined) setBackend(device as 'cpu' | 'cuda');
}

export function pct(v: number | undefined): string {
  return v === undefined ? '-' : `${(100 * v).toFixed(2)}%`;
}
