/**
 * Migration 2: records, the coordination part's small named values with an optional expiry
 * (worker registry, revocations, beat entries, unique-job keys). Unqualified names: the migration
 * runs with `search_path` set to celeriac's schema.
 */
export const SQL = `
CREATE TABLE records (
  space      text   NOT NULL,
  key        text   NOT NULL,
  value      text   NOT NULL,
  expires_at bigint,
  PRIMARY KEY (space, key)
);
CREATE INDEX records_expires ON records (expires_at) WHERE expires_at IS NOT NULL;
`
