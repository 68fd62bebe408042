/** Every PostgreSQL schema of this test run starts with this; global-teardown.ts drops them. */
export function schemaPrefix(): string {
  return `t_${process.env.TEST_RUN_ID ?? 'local'}_`;
}
