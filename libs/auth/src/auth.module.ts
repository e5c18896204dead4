import { DynamicModule, Module } from '@nestjs/common';
import type { AuthConfig } from './auth.config';
import { AuthGuard } from './auth.guard';
import { CallerVerifier } from './caller-verifier';

@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    return {
      module: AuthModule,
      providers: [{ provide: CallerVerifier, useValue: new CallerVerifier(config) }, AuthGuard],
      exports: [CallerVerifier, AuthGuard],
    };
  }
}
