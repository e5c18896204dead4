// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Boundaries between the parts of the repository, checked by lint (npm test runs it): each folder
 * gets one `no-restricted-imports` (a later config object replaces an earlier one's options for
 * the same rule, so every folder's object lists everything forbidden there).
 * libs/import-boundaries.spec.ts shows that each rule bites.
 */
const APPS = {
  group: ['@app/upstream-sim', '@app/upstream-sim/*', '**/apps/**', 'apps/**'],
  message: 'A library never imports an app (apps depend on libs, not the other way round).',
};
const NO_NEST_AXIOS_FS = {
  group: [
    '@nestjs/*',
    'axios',
    'axios/*',
    'fs',
    'fs/*',
    'node:fs',
    'node:fs/*',
    // Libraries that pull in Nest, axios or the file system through their index.
    '@app/auth',
    '@app/auth/*',
    '@app/upstream',
    '@app/upstream/*',
    '@app/audit',
    '@app/audit/*',
  ],
  message:
    'The policy engine and the shared constants stay pure: no Nest, axios or file system (plain constants come from @app/common).',
};
const SIMULATOR = {
  group: ['@app/upstream-sim', '@app/upstream-sim/*', '**/upstream-sim/**'],
  message:
    'The gateway never imports the simulator (only main.dev.ts and dev/ start it, for the embedded default).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench-results/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='only']", message: 'No focused tests.' },
        { selector: "CallExpression[callee.property.name='skip']", message: 'No skipped tests.' },
      ],
    },
  },
  {
    files: ['libs/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [APPS] }] },
  },
  {
    files: ['libs/policy/**/*.ts', 'libs/common/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [APPS, NO_NEST_AXIOS_FS] }] },
  },
  {
    files: ['apps/gateway/src/**/*.ts'],
    ignores: ['apps/gateway/src/main.dev.ts', 'apps/gateway/src/dev/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [SIMULATOR] }] },
  },
);
