export * from './audit.types';
export { AuditFileSink, AuditUnavailableError } from './file-sink';
export type { AuditSinkOptions, SinkHealth } from './file-sink';
export { chainLine, parseChainBytes, GENESIS_HASH } from './chain';
export { fingerprint, headMac } from './fingerprint';
export { verifyAuditLog } from './verify';
export type { VerifyResult, VerifyProblem, ProblemKind } from './verify';
export { readRecords, readRecordsNewestFirst } from './reader';
export { listSegments, segmentName, HEAD_FILE } from './segments';
