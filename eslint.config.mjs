import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'broker/bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test registers tests synchronously; the promises it returns are its own business.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Only the extension (and the suites that run inside VS Code's extension host) may import `vscode`.
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    ignores: ['extension/**', 'test/e2e/suite/**', 'bench/activation-suite.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: '`vscode` may only be imported under extension/.' }] }],
      'no-restricted-modules': 'off',
    },
  },
  {
    // The extension host talks to rank 0 over the local socket; it never loads ZeroMQ.
    files: ['extension/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'zeromq', message: 'The extension host never loads zeromq: use the client library over the local socket.' }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
