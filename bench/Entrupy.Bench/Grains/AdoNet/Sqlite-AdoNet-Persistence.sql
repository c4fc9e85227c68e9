-- Our own schema and named queries for Orleans' ADO.NET grain storage (Microsoft.Orleans.Persistence.AdoNet 10.4.2,
-- invariant "System.Data.SQLite", served by Microsoft.Data.Sqlite) on one SQLite file. Used by bench/run sqlite-vs-adonet.
-- The contract the provider reads (its package ships no scripts): a table OrleansQuery(QueryKey, QueryText) holding
-- WriteToStorageKey, ReadFromStorageKey and ClearStorageKey, with parameters @GrainIdHash, @GrainIdN0, @GrainIdN1,
-- @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary; the read
-- returns columns PayloadBinary and Version, write and clear return one row NewGrainStateVersion: the new version on
-- success, the version passed in (or NULL when none was) on a conflict.
-- Idempotent: re-running it refreshes the queries and keeps the state.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT PRIMARY KEY,
    QueryText TEXT NOT NULL
);

-- One row per grain state. The whole identity is the unique key (no hash collisions to prune); a missing key
-- extension is stored as '' so that the key is never NULL.
CREATE TABLE IF NOT EXISTS OrleansStorage
(
    GrainIdHash            INTEGER NOT NULL,
    GrainTypeHash          INTEGER NOT NULL,
    GrainIdN0              INTEGER NOT NULL,
    GrainIdN1              INTEGER NOT NULL,
    GrainTypeString        TEXT NOT NULL,
    GrainIdExtensionString TEXT NOT NULL,
    ServiceId              TEXT NOT NULL,
    PayloadBinary          BLOB NULL,
    ModifiedOn             TEXT NOT NULL,
    Version                INTEGER NOT NULL,
    UNIQUE (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString, ServiceId)
);

-- Each write is one autocommit statement on the provider's pooled connection; synchronous=FULL is set per write because
-- it is a per-connection setting (journal_mode=WAL is stored in the file by whoever creates it).
-- First write (@GrainStateVersion NULL): insert version 1, a conflict with an existing row changes nothing.
-- Later writes: the proposed row conflicts with the stored one and updates it only if its Version is the one passed in.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('WriteToStorageKey', '
    PRAGMA synchronous = FULL;
    INSERT INTO OrleansStorage (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)
    SELECT @GrainIdHash, @GrainTypeHash, @GrainIdN0, @GrainIdN1, @GrainTypeString, ifnull(@GrainIdExtensionString, ''''), @ServiceId, @PayloadBinary, datetime(''now''), 1
    WHERE @GrainStateVersion IS NULL
       OR EXISTS (SELECT 1 FROM OrleansStorage
                  WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
                    AND GrainTypeString = @GrainTypeString AND GrainIdExtensionString = ifnull(@GrainIdExtensionString, '''') AND ServiceId = @ServiceId)
    ON CONFLICT (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString, ServiceId)
    DO UPDATE SET PayloadBinary = excluded.PayloadBinary, ModifiedOn = excluded.ModifiedOn, Version = Version + 1
    WHERE Version = @GrainStateVersion;
    SELECT CASE WHEN changes() > 0 THEN ifnull(@GrainStateVersion, 0) + 1 ELSE @GrainStateVersion END AS NewGrainStateVersion;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadFromStorageKey', '
    SELECT PayloadBinary, Version
    FROM OrleansStorage
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND GrainTypeString = @GrainTypeString AND GrainIdExtensionString = ifnull(@GrainIdExtensionString, '''') AND ServiceId = @ServiceId;
');

-- Clearing keeps the row (its Version goes on counting) and drops the payload.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ClearStorageKey', '
    PRAGMA synchronous = FULL;
    UPDATE OrleansStorage
    SET PayloadBinary = NULL, ModifiedOn = datetime(''now''), Version = Version + 1
    WHERE GrainIdHash = @GrainIdHash AND GrainTypeHash = @GrainTypeHash AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND GrainTypeString = @GrainTypeString AND GrainIdExtensionString = ifnull(@GrainIdExtensionString, '''') AND ServiceId = @ServiceId
      AND Version = @GrainStateVersion;
    SELECT CASE WHEN changes() > 0 THEN @GrainStateVersion + 1 ELSE @GrainStateVersion END AS NewGrainStateVersion;
');
