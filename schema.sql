-- The Appointment Registry's whole schema. Applied at every start (idempotent); the schema's
-- version is PRAGMA user_version (see store/schema.rs). Times are UTC text of fixed width,
-- 'YYYY-MM-DDTHH:MM:SS.mmmZ', so they sort as text and read well in sqlite3.

-- One row per registered appointment: its current state, with the columns the registry
-- searches on and an admin reads. The resource itself lives in appointment_version.
CREATE TABLE IF NOT EXISTS appointment (
    id              TEXT PRIMARY KEY,      -- logical id assigned by the registry (UUID)
    version         INTEGER NOT NULL,      -- current version id (meta.versionId), 1 on registration
    status          TEXT NOT NULL,         -- Appointment.status of the current version (booked, cancelled, …)
    nhs_number      TEXT NOT NULL,         -- the patient's NHS number (Modulus 11 checked)
    start_at        TEXT NOT NULL,         -- Appointment.start in UTC
    created_at      TEXT NOT NULL,         -- Appointment.created in UTC (used for filtering and expiry)
    last_updated    TEXT NOT NULL,         -- meta.lastUpdated of the current version
    registered_at   TEXT NOT NULL,         -- when the registry accepted the registration
    registered_by_org  TEXT,               -- caller's ODS code (JWT requesting_organization, else sub)
    registered_by_asid TEXT,               -- caller's ASID (JWT requesting_system)
    registered_by_cert TEXT,               -- subject of the caller's TLS client certificate
    current_row     INTEGER                -- appointment_version.row of the current version (always
                                           -- set by the registry; SQL that adds versions by hand must set it)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS appointment_created_at ON appointment (created_at);
CREATE INDEX IF NOT EXISTS appointment_start_at ON appointment (start_at);
-- A patient's appointments in start order: the registry's main search. Each entry carries the
-- columns a search reads (current_row, to find the resource by its integer key; status and
-- created_at, to filter), so a page reads no row of the table itself, only this index and
-- appointment_version.
CREATE INDEX IF NOT EXISTS appointment_patient
    ON appointment (nhs_number, start_at, id, current_row, status, created_at);
-- A patient's appointments in created order: searches sorted or filtered by created. With the
-- index above, every search shape is answered without scanning the table, or reading it. Both
-- order by id after the date, the tie-breaker of keyset paging.
CREATE INDEX IF NOT EXISTS appointment_patient_created
    ON appointment (nhs_number, created_at, id, current_row, status, start_at);

-- Every version of every appointment, as canonical FHIR JSON (what GET .../_history/{vid} returns).
-- Keyed by an integer row number, in the order versions were written: a new version is
-- appended at the B-tree's right edge, and a search finds each resource by an integer
-- (appointment.current_row) rather than by the 36-character id.
CREATE TABLE IF NOT EXISTS appointment_version (
    row             INTEGER PRIMARY KEY,   -- the rowid: 1 + the highest so far when written
    id              TEXT NOT NULL REFERENCES appointment (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,      -- meta.versionId
    last_updated    TEXT NOT NULL,         -- meta.lastUpdated
    status          TEXT NOT NULL,         -- Appointment.status in this version
    changed_by_org  TEXT,                  -- ODS code of the caller that wrote this version
    resource        TEXT NOT NULL          -- the Appointment, canonical FHIR JSON
);
-- An appointment's versions: reads by id and version, history, and expiry's cascade.
CREATE UNIQUE INDEX IF NOT EXISTS appointment_version_id ON appointment_version (id, version);

-- Business identifiers (Appointment.identifier): a system|value registers once only.
CREATE TABLE IF NOT EXISTS appointment_identifier (
    system          TEXT NOT NULL,         -- Identifier.system ('' when absent)
    value           TEXT NOT NULL,         -- Identifier.value
    id              TEXT NOT NULL REFERENCES appointment (id) ON DELETE CASCADE,
    PRIMARY KEY (system, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS appointment_identifier_value ON appointment_identifier (value);
CREATE INDEX IF NOT EXISTS appointment_identifier_id ON appointment_identifier (id);

-- One row per expiry pass (background task or `appointment-registry expire`): what RULES.md §7
-- removed, and when.
CREATE TABLE IF NOT EXISTS expiry_run (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT NOT NULL,         -- when the pass began
    finished_at     TEXT NOT NULL,
    created_before  TEXT,                  -- cut-off for Appointment.created (NULL: rule off)
    start_before    TEXT,                  -- cut-off for Appointment.start (NULL: rule off)
    deleted         INTEGER NOT NULL,      -- appointments removed (their versions and identifiers go with them)
    duration_ms     INTEGER NOT NULL,
    trigger         TEXT NOT NULL          -- 'schedule' or 'command'
);

-- The current state, one readable row per appointment: what an admin usually wants.
DROP VIEW IF EXISTS appointment_summary;
CREATE VIEW appointment_summary AS
SELECT a.id,
       a.status,
       a.nhs_number,
       a.start_at,
       a.created_at,
       a.version,
       a.last_updated,
       a.registered_at,
       a.registered_by_org  AS organisation,
       a.registered_by_asid AS asid,
       a.registered_by_cert AS certificate,
       (SELECT group_concat(CASE i.system WHEN '' THEN i.value ELSE i.system || '|' || i.value END, ' ')
          FROM appointment_identifier i WHERE i.id = a.id) AS identifiers
  FROM appointment a;
