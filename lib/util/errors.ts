/**
 * Error kinds that callers tell apart by their `code` property, never by the message text.
 * The native side sets the code (native/common/error.h, ErrorKind::NonFinite, turned into a
 * JS error by native/binding/js_function.h); TypeScript code that detects the same
 * condition uses nonFiniteError so both look alike.
 */

/** `code` of a RangeError about a NaN or infinity where a finite value is required. */
export const NON_FINITE_CODE = 'S4_NON_FINITE';

/** Whether err reports a non-finite value (from the native ops or from nonFiniteError). */
export function isNonFiniteError(err: unknown): err is RangeError & { code: typeof NON_FINITE_CODE } {
  return err instanceof Error && (err as { code?: unknown }).code === NON_FINITE_CODE;
}

/** A RangeError with the non-finite code, for TypeScript checks of values. */
export function nonFiniteError(message: string): RangeError & { code: typeof NON_FINITE_CODE } {
  return Object.assign(new RangeError(message), { code: NON_FINITE_CODE } as const);
}
