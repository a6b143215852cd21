// Lint rules run by `npm test` over src/: a small set that needs no type information (so it
// runs in seconds), catching what the compiler does not: dead code after a return, `var`,
// `let` never reassigned, loose equality, `any`, a debugger statement left in.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/proto/etcdserverpb.ts', 'src/proto/v3electionpb.ts', 'src/proto/v3lockpb.ts', 'src/proto/mvccpb.ts', 'src/proto/authpb.ts', 'src/proto/grpc_health_v1.ts'] },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-debugger': 'error',
      'no-var': 'error',
      // a destructuring whose parts are reassigned unevenly stays one `let`
      'prefer-const': ['error', { destructuring: 'all' }],
      eqeqeq: ['error', 'smart'],
      'no-unreachable': 'error',
      'no-unsafe-finally': 'error',
      'no-self-assign': 'error',
      'no-dupe-else-if': 'error',
      'no-duplicate-case': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
    },
  },
);
