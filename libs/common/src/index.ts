export { ErrorCode, GatewayError } from './gateway-error';
