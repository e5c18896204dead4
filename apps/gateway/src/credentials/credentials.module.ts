import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { IssuanceModule } from '../issuance/issuance.module';
import { CREDENTIAL_REVOKER } from '../issuance/verification';
import { OctaneModule } from '../octane/octane.module';
import { CredentialRevoker } from './credential-revoker';
import { CredentialsController, LeaksController } from './credentials.controller';
import { CredentialsService } from './credentials.service';
import { LeaksService } from './leaks.service';
import { OffboardingService } from './offboarding.service';

/** The credentials inventory API, offboarding and leaked secrets (issue 14). */
@Module({
  imports: [AuditModule, IssuanceModule, OctaneModule],
  controllers: [CredentialsController, LeaksController],
  providers: [
    CredentialsService,
    CredentialRevoker,
    OffboardingService,
    LeaksService,
    // The verifier re-sends an unverified revocation through it (looked up lazily: IssuanceModule
    // cannot import this module, which imports it).
    { provide: CREDENTIAL_REVOKER, useExisting: CredentialRevoker },
  ],
})
export class CredentialsModule {}
