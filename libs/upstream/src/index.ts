export { QwietClient } from './qwiet.client';
export type { QwietUpstreamConfig, QwietTokenQuery } from './qwiet.client';
export { OctaneClient } from './octane.client';
export type { OctaneUpstreamConfig, OctaneListQuery } from './octane.client';
export type { OctaneCredentials } from './octane.session';
export { UpstreamError, toUpstreamError } from './upstream.errors';
export type { Vendor, UpstreamFailure } from './upstream.errors';
export type { TransportOptions, VendorResponse } from './vendor-http';
