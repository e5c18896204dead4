import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build:console` (Vite) writes the console; the image copies it to the same place. */
export const CONSOLE_DIST = resolve(process.cwd(), 'apps', 'console', 'dist');

/** Hashed file names (Vite's `assets/name-<hash>.ext`): their content never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current hashes: always revalidated, so a new build is picked up at once. */
const REVALIDATE = 'no-cache';

/** A path under the console's root for `rest` (what follows /console/), or undefined if it climbs out. */
function inside(root: string, rest: string): string | undefined {
  const full = resolve(root, rest);
  const rel = relative(root, full);
  if (rel.startsWith('..') || rel.includes(`..${sep}`) || resolve(root, rel) !== full)
    return undefined;
  return rel;
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The console's routes on Fastify: `GET /console`, `/console/` and every client-side route under
 * it answer index.html (no-cache); `/console/assets/*` are Vite's hashed files (a year,
 * immutable); a missing asset is a 404, never index.html. No authentication here: the page is
 * public, and everything it shows comes from the API behind the session cookie.
 */
export function serveConsole(fastify: FastifyInstance, root = CONSOLE_DIST): void {
  void fastify.register(fastifyStatic, { serve: false });
  const handler = (req: FastifyRequest, reply: FastifyReply) => {
    if (!existsSync(join(root, 'index.html'))) {
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send('The Keygate console is not built: run `npm run build:console`.\n');
    }
    const rest = decodeURIComponent(
      ((req.params as Record<string, string>)['*'] ?? '').split('?')[0],
    );
    const rel = inside(root, rest);
    if (rel !== undefined && rel !== '' && isFile(join(root, rel))) {
      reply.header('cache-control', rel.startsWith(`assets${sep}`) ? IMMUTABLE : REVALIDATE);
      return reply.sendFile(rel, root, { cacheControl: false });
    }
    // A file that is not there (an old hash, a typo) is a 404; any other path is a page of the SPA.
    if (rel === undefined || rest.startsWith('assets/') || /\.[a-z0-9]+$/i.test(rest)) {
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send('Not found\n');
    }
    reply.header('cache-control', REVALIDATE);
    return reply.sendFile('index.html', root, { cacheControl: false });
  };
  fastify.get('/console', handler);
  fastify.get('/console/*', handler);
}

/** Serves the console SPA (apps/console) at /console. */
@Module({})
export class ConsoleModule implements OnModuleInit {
  constructor(private readonly adapter: HttpAdapterHost) {}

  onModuleInit(): void {
    serveConsole(this.adapter.httpAdapter.getInstance<FastifyInstance>());
  }
}
