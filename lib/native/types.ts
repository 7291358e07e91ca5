/** Types of the native surface shared by the hand-declared core and the generated ops. */

/** Opaque handle of a native buffer (native/binding/buffer.h). */
export interface NativeBuffer {
  readonly bytes: number;
  readonly device: 'cpu' | 'cuda' | 'none';
  readonly alive: boolean;
  free(): void;
}

/**
 * Opaque handle of a captured CUDA graph (native/binding/graph_handle.cpp): the op launches
 * of one call of a function, launched again as one. Destroyed when collected.
 */
export interface NativeGraph {
  readonly __nativeGraph: never;
}

/**
 * Opaque handle of an NCCL communicator (native/binding/nccl.cpp, native/cuda/nccl_comm.h).
 * Aborted (never waiting for other ranks) when collected without ncclDestroy.
 */
export interface NativeNcclComm {
  readonly __nativeNcclComm: never;
}

/** One argument of an op spec, as the addon's opSpecs() describes it. */
export interface OpArgDescription {
  name: string;
  kind: 'in' | 'out' | 'inout' | 'size' | 'number' | 'flag' | 'choice';
  dtype?: 'float32' | 'complex64';
  /** Extents: a size argument ('H'), 'mul*size+add' ('10*N2+2') or a number ('1'). */
  shape?: string[];
  optional?: boolean;
  integer?: boolean;
  /** '[min, max]' with '(' or ')' for open ends. */
  range?: string;
  choices?: string[];
}

/** One op spec (native/binding/op_spec.h). */
export interface OpSpecDescription {
  name: string;
  family: string;
  args: OpArgDescription[];
  /** Pairs of buffer arguments that must not be the same buffer. */
  distinct: [string, string][];
  returns: 'void' | 'number';
}
