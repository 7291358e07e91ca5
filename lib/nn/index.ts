/** s4.nn: modules and layers. */
export { Module, type ParamOptions, type ParamGroup, type GroupOptions, type StateDict, type StateValue } from './module';
export { Linear, type LinearOptions } from './linear';
export { LayerNorm, type LayerNormOptions } from './layer_norm';
export { BatchNorm, type BatchNormOptions } from './batch_norm';
export { Dropout, type DropoutOptions } from './dropout';
export { Embedding, type EmbeddingOptions } from './embedding';
export { S4Layer, S4_INITS, type S4LayerOptions, type S4Kernel, type S4Init, type BidirectionalConvention, type LongInputs, type LayerStepper } from './s4_layer';
export { SequenceModel, type SequenceModelOptions, type Pooling, type ModelStepper, type ForwardOptions } from './sequence_model';
export { checkLengths, type SequenceLengths } from './lengths';
export { Rng } from './random';
export { type GenerateOptions, type GenerationStep } from './generate';
export { sampleIndex } from './sampling';
