import { Controller, RequestMethod, RequestMapping, Res, Type } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ErrorCode, GatewayError } from '@app/common';
import type { FastifyReply } from 'fastify';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];

/**
 * The methods a vendor path answers; every other method there gets 405 METHOD_NOT_ALLOWED in the
 * vendor's envelope (the exception filter picks it by the path) with an `Allow` header, as the
 * vendors answer. A path not listed stays 404.
 */
export type VendorPaths = Record<string, readonly Method[]>;

/** The 405 answer for `method` on a path serving `allowed`: sets Allow and throws. */
export function refuseMethod(
  reply: FastifyReply,
  method: string,
  allowed: readonly Method[],
): never {
  const allow = allowHeader(allowed);
  reply.header('Allow', allow);
  throw new GatewayError(
    405,
    ErrorCode.METHOD_NOT_ALLOWED,
    `${method} is not allowed here; allowed: ${allow}`,
  );
}

/** `Allow` lists HEAD wherever GET is served (Fastify answers HEAD for every GET route). */
export const allowHeader = (methods: readonly Method[]): string =>
  methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');

/**
 * A controller answering 405 for the methods each path of `paths` (under `prefix`) does not
 * serve. The caller still needs a valid company JWT (the global guard runs first). Left out of
 * the OpenAPI document: the vendor routes document the 405s that matter.
 */
export function methodNotAllowedController(
  name: string,
  prefix: string,
  paths: VendorPaths,
  /** Methods answered by a documented route instead, per path. */
  elsewhere: Partial<Record<string, readonly Method[]>> = {},
): Type {
  @ApiExcludeController()
  @Controller(prefix)
  class MethodNotAllowed {}
  Object.defineProperty(MethodNotAllowed, 'name', { value: name });
  let n = 0;
  for (const [path, allowed] of Object.entries(paths)) {
    const skip = elsewhere[path] ?? [];
    for (const method of METHODS.filter((m) => !allowed.includes(m) && !skip.includes(m))) {
      const key = `refuse${n++}`;
      const handler = (reply: FastifyReply): never => refuseMethod(reply, method, allowed);
      Object.defineProperty(MethodNotAllowed.prototype, key, {
        value: handler,
        writable: true,
        configurable: true,
      });
      const descriptor = Object.getOwnPropertyDescriptor(MethodNotAllowed.prototype, key)!;
      Res({ passthrough: true })(MethodNotAllowed.prototype, key, 0);
      RequestMapping({ path, method: RequestMethod[method] })(
        MethodNotAllowed.prototype,
        key,
        descriptor,
      );
    }
  }
  return MethodNotAllowed;
}
