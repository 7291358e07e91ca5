/**
 * s4.interop: the official S4 (state-spaces/s4) and this library, both ways. State dicts
 * by the official names (blockFromOfficial, modelFromOfficial, toOfficialStateDict,
 * officialConfig).
 */
export { blockFromOfficial, modelFromOfficial, type FromOfficialOptions } from './from_official';
export { toOfficialStateDict, officialConfig, type ToOfficialOptions } from './to_official';
export type { OfficialBlockConfig, OfficialModelConfig, Transform } from './official_config';
export type { OfficialStateDict, OfficialTensor } from './official_tensor';
