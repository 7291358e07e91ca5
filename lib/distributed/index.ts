/**
 * s4.distributed: data-parallel training over several processes (one per GPU, or CPU
 * processes): the TCP process group (rendezvous, small collectives, failure detection),
 * DataParallel (sharding, gradient all-reduce through NCCL or the group), the environment
 * of torchrun / Slurm / `s4 train --gpus N`, and the launcher behind that flag.
 */
export { ProcessGroup, ProcessGroupError, type ProcessGroupOptions, type ReduceOp } from './process_group';
export { DataParallel, shardOf, type DataParallelOptions } from './data_parallel';
export { distributedEnv, pinLocalGpu, DEFAULT_MASTER_PORT, type DistributedEnv } from './env';
export { NcclCommunicator, ncclInfo, ncclUniqueId, NCCL_DEFAULT_TIMEOUT_MS, NCCL_UNIQUE_ID_BYTES, type NcclInfo, type NcclCommunicatorOptions, type NcclAllReduceOptions } from './nccl';
export { launch, describeFailure, type LaunchOptions, type LaunchResult } from './launch';
