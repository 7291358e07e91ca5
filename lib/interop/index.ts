/**
 * s4.interop: the official S4 (state-spaces/s4) and this library, both ways. State dicts
 * by the official names (blockFromOfficial, modelFromOfficial, toOfficialStateDict,
 * officialConfig); files: safetensors and torch.save / Lightning files read without running
 * them (readStateDict), and written (encodeTorchStateDict, writeSafetensorsAny).
 */
export { blockFromOfficial, modelFromOfficial, type FromOfficialOptions } from './from_official';
export { toOfficialStateDict, officialConfig, type ToOfficialOptions } from './to_official';
export type { OfficialBlockConfig, OfficialModelConfig, Transform } from './official_config';
export type { OfficialStateDict, OfficialTensor } from './official_tensor';
export { readStateDict, stateDictFromBytes, type ReadStateDictOptions, type StateDictFile } from './state_file';
export { loadTorch, type TorchLoadOptions, type TorchValue } from './torch_load';
export { encodeTorchStateDict } from './torch_save';
export { readSafetensorsAny, writeSafetensorsAny } from './safetensors_io';
export { UnsafePickleError, PickleFormatError } from './pickle';
export { PyOpaque } from './pickle_values';
