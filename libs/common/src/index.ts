export { ErrorCode, GatewayError } from './gateway-error';
export {
  AUDIT_EVENTS,
  AUDIT_PHASES,
  CREDENTIAL_ACTIONS,
  CREDENTIAL_STATUSES,
  GatewayRole,
  NOTIFICATION_EVENTS,
  OCTANE_ID,
  POLICY_ACTIONS,
  QWIET_CI_ROLE_ID,
  SETTLING_NOTE,
  UUID,
} from './vocabulary';
export type {
  AuditEventName,
  AuditPhaseName,
  CredentialAction,
  CredentialStatus,
  NotificationEventName,
  PolicyActionName,
} from './vocabulary';
