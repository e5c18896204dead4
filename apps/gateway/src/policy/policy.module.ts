import { Module } from '@nestjs/common';
import { CredentialOwners } from './credential-owners';
import { PolicyController } from './policy.controller';
import { PolicyEnforcer } from './policy.enforcer';
import { PolicyExplainService } from './policy-explain.service';
import { PolicyStore } from './policy.store';

@Module({
  controllers: [PolicyController],
  providers: [PolicyStore, PolicyEnforcer, PolicyExplainService, CredentialOwners],
  exports: [PolicyStore, PolicyEnforcer, CredentialOwners],
})
export class PolicyModule {}
