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
 * the log moved and once at shutdown: the log collector holds a witness outside the database,
 * which `keygate audit verify --db --checkpoint` checks the ledger still contains. Each is also
 * stored in ledger_checkpoints, which the next start-up's check requires the ledger to contain.
 */
@Injectable()
export class AuditCheckpoints implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly writer: CheckpointWriter;

  /** This application's pino logger, taken at bootstrap (Nest's Logger is gone by shutdown). */
  private logger?: Logger;
  private stopping = false;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig, audit: AuditService) {
    this.writer = new CheckpointWriter({
      key: config.audit.hmacKey,
      position: () => audit.health().last ?? { seq: 0, hash: '' },
      emit: (c) => {
        this.logger?.info(
          { context: 'Audit', checkpoint: c.checkpoint, seq: c.seq },
          'audit checkpoint',
        );
        // Witnessed in the database too (ledger_checkpoints), for the next start-up's check; the
        // one at shutdown is stored by the sink as it closes (on its own session).
        if (this.stopping) return;
        audit
          .storeCheckpoint()
          .catch((error: unknown) =>
            this.logger?.warn(
              { context: 'Audit', error: (error as Error).message },
              'audit checkpoint could not be stored in the ledger',
            ),
          );
      },
    });
  }

  onApplicationBootstrap(): void {
    // nestjs-pino's root logger is the one LoggerModule made for this application.
    this.logger = (PinoLogger as unknown as { root: Logger }).root;
    this.writer.start();
  }

  onApplicationShutdown(): void {
    this.stopping = true;
    this.writer.stop();
  }
}
