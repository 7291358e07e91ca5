/**
 * s4.data: datasets the Trainer takes. Your own sequences (any lengths) from arrays or a
 * JSON Lines file, the generated LRA ListOps, and readers of IMDB, CIFAR-10 and the IDX
 * files; the validation split; the batching by length and its padding measure.
 */
export type { Batch, Dataset } from './dataset';
export { fromArrays, SequenceDataset, ArraySequenceDataset, type ArrayInput, type FromArraysOptions, type SequenceExample, type SequenceShape } from './sequences';
export { fromJsonl, JsonlDataset, BYTE_VOCAB, type JsonlOptions } from './jsonl';
export { generateListops, readListopsTsv, tokenizeListops, listopsText, LISTOPS_VOCAB, type ListopsOptions } from './listops';
export { loadImdb } from './imdb';
export { loadCifar, CifarClassification, CIFAR_PIXELS, type Cifar } from './cifar';
export { holdOut, Subset } from './split';
export { epochBatches, evalBatches, paddingShare, BUCKET_WINDOW } from '../batching';
