import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { OctaneClient, QwietClient } from '@app/upstream';
import axios from 'axios';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';

const PING_TIMEOUT_MS = 2000;

/**
 * A vendor is up when its circuit is not open and its base URL answers HTTP at all (any status):
 * reachability, not credentials.
 */
@Injectable()
export class VendorHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
  ) {}

  async check(vendor: 'qwiet' | 'octane') {
    const indicator = this.health.check(vendor);
    const circuit = (vendor === 'qwiet' ? this.qwiet : this.octane).circuit.state;
    if (circuit === 'open')
      return indicator.down({
        message: `${vendor} circuit is open after repeated failures`,
        circuit,
      });
    try {
      await axios.get(this.config[vendor].baseUrl, {
        timeout: PING_TIMEOUT_MS,
        maxRedirects: 0,
        proxy: false,
        validateStatus: () => true,
      });
      return indicator.up({ circuit });
    } catch {
      return indicator.down({ message: `${vendor} is not reachable`, circuit });
    }
  }
}
