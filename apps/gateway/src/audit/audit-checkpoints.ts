import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { CheckpointWriter } from '@app/audit';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from './audit.service';

/**
 * Signed checkpoints of the audit chain in the stdout log (a pino line with msg "audit
 * checkpoint": `checkpoint` = SEQ:HASH:MAC under the checkpoint key), at least every minute while
 * the log moved and once at shutdown: the log collector holds a witness outside the audit
 * directory, which `keygate audit verify --checkpoint` checks the log still contains.
 */
@Injectable()
export class AuditCheckpoints implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly writer: CheckpointWriter;

  /** This application's pino logger, taken at bootstrap (Nest's Logger is gone by shutdown). */
  private logger?: Logger;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig, audit: AuditService) {
    this.writer = new CheckpointWriter({
      key: config.audit.hmacKey,
      position: () => audit.health().last ?? { seq: 0, hash: '' },
      emit: (c) =>
        this.logger?.info(
          { context: 'Audit', checkpoint: c.checkpoint, seq: c.seq },
          'audit checkpoint',
        ),
    });
  }

  onApplicationBootstrap(): void {
    // nestjs-pino's root logger is the one LoggerModule made for this application.
    this.logger = (PinoLogger as unknown as { root: Logger }).root;
    this.writer.start();
  }

  onApplicationShutdown(): void {
    this.writer.stop();
  }
}
