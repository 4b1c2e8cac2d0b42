export { PostgresStorage } from './postgres-storage';
export { SCHEMA_SQL } from './schema';
