export * from './audit.types';
export { AuditFileSink, AuditUnavailableError } from './file-sink';
export type { AuditSinkOptions, SinkHealth } from './file-sink';
export { chainLine, parseChainBytes, GENESIS_HASH } from './chain';
export { GroupCommit } from './group-commit';
export {
  checkpointMac,
  deriveKey,
  fingerprint,
  headMac,
  legacyFingerprint,
  legacyHeadMac,
  KEY_PURPOSES,
} from './keys';
export { verifyAuditLog } from './verify';
export type { VerifyResult, VerifyProblem, ProblemKind } from './verify';
export { readRecords, readRecordsNewestFirst } from './reader';
export { listSegments, segmentName, HEAD_FILE } from './segments';
export { CheckpointWriter, makeCheckpoint, parseCheckpoint } from './checkpoint';
export type { Checkpoint, CheckpointWriterOptions } from './checkpoint';
export type { ChainPoint, VerifyOptions } from './verify';
export type { LogGap } from './file-sink';
