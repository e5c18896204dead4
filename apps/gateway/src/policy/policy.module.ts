import { Module } from '@nestjs/common';
import { CredentialOwners } from './credential-owners';
import { PolicyController } from './policy.controller';
import { PolicyEnforcer } from './policy.enforcer';
import { PolicyAuditLog } from './policy-audit';
import { PolicyExplainService } from './policy-explain.service';
import { PolicyStore } from './policy.store';

@Module({
  controllers: [PolicyController],
  providers: [PolicyStore, PolicyEnforcer, PolicyExplainService, CredentialOwners, PolicyAuditLog],
  exports: [PolicyStore, PolicyEnforcer, CredentialOwners],
})
export class PolicyModule {}
