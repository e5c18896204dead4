/**
 * A floor for `npm run bench`: NestJS on Fastify doing nothing but forward Qwiet token calls to
 * the simulator over node:http (keep-alive), with no check, log or audit. Keygate's cost beyond
 * this floor is its own work; the floor's cost beyond the raw forwarder is the framework's.
 */
import 'reflect-metadata';
import http from 'node:http';
import { Body, Controller, Get, Module, Param, Post, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';

const base = process.env.QWIET_BASE_URL ?? '';
const orgTokens: Record<string, string> = JSON.parse(process.env.QWIET_ORG_TOKENS ?? '{}');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function forward(method: string, org: string, body: unknown, reply: FastifyReply) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<unknown>((resolve, reject) => {
    const req = http.request(
      `${base}/orgs/${org}/tokens`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${orgTokens[org]}`,
          'content-type': 'application/json',
          ...(payload && { 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          reply.status(res.statusCode ?? 502);
          resolve(JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

@Controller('qwiet/api/v4/orgs/:orgId/tokens')
class ForwardController {
  @Post()
  create(
    @Param('orgId') org: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return forward('POST', org, body, reply);
  }

  @Get()
  list(@Param('orgId') org: string, @Res({ passthrough: true }) reply: FastifyReply) {
    return forward('GET', org, undefined, reply);
  }
}

@Module({ controllers: [ForwardController] })
class FloorModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(FloorModule, new FastifyAdapter(), {
    logger: false,
  });
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.stdout.write(`nest floor listening on ${await app.getUrl()}\n`);
}

void main();
