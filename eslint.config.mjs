// ESLint flat config: typescript-eslint's type-aware rules on the TypeScript sources, the
// plain recommended rules on the JavaScript scripts. Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'console/dist/', 'coverage/', 'data/', 'node_modules/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks a parameter an interface requires but this implementation does not use, and
      // `{ dropped, ...rest }` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Kysely's expression builder is meant to be destructured (`({ exists, selectFrom }) => …`),
      // and the row mappers are plain objects of functions that never use `this`.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The console's build config belongs to neither TypeScript project (Node globals, browser
    // sources): vite checks it when it loads it, so it gets the untyped rules only.
    files: ['console/vite.config.mts', 'console/vitest.config.mts'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node }, parserOptions: { projectService: false } },
  },
  {
    // The console runs in the browser: its globals are the DOM's, not Node's.
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Tests and examples read JSON answers (supertest's `body`, gRPC clients loaded from the
    // proto at run time) that are `any` by nature; the assertions are what check their shape.
    files: ['test/**/*.ts', 'examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Test doubles implement async interfaces: an `async` stub that throws is how they reject.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node }, sourceType: 'commonjs' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
);
