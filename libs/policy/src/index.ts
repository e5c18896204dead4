export * from './policy.types';
export { compilePolicy, policyRevision, PolicyError } from './policy.compile';
export { driftUnknownAction, evaluate, owningTeam, QWIET_CI_ROLE_ID } from './evaluate';
export { generateSecret, characterClasses, isCommonPassword } from './secrets';
export { POLICY_SCHEMA } from './policy.schema';
export { thresholdSeconds, WEBHOOK_SECRET_PREFIX } from './notify';
export type { CompiledNotify, ExpiryThreshold, NotifyDocument, NotifyWebhook } from './notify';
