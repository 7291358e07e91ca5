/** s4.ops: the typed, validated native ops. */
export { add, sub, scale, mul, sum, mean, fill_ } from './pointwise';
