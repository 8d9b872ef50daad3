-- The service connects as a member of secretsdb_app: it may call the SQL API and read what
-- the service reads, but never write a table directly. Roles are cluster-wide, so this only
-- creates the role when it is missing; a role created by a DBA beforehand is used as it is,
-- and the migrating role then needs no CREATEROLE.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'secretsdb_app') THEN
        CREATE ROLE secretsdb_app NOLOGIN;
    END IF;
EXCEPTION
    -- Two databases of one cluster migrated at once both see the role missing.
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The role is left in place: it is shared by every database of the cluster and may hold
-- grants in databases this migration never saw. Drop it by hand with DROP ROLE when no
-- database uses it.
SELECT 1;
