-- Booking: appointment length per business, calendar titles, blocked times,
-- and the database itself refusing double bookings.

ALTER TABLE businesses ADD COLUMN appointment_minutes INTEGER NOT NULL DEFAULT 90
    CHECK (appointment_minutes BETWEEN 15 AND 600);

-- Calendar events carry a title; manual ones a customer's name.
ALTER TABLE appointments ADD COLUMN title TEXT;
ALTER TABLE appointments ADD COLUMN customer_name TEXT;

-- The half-open span [starts_at, starts_at + minutes) an appointment occupies.
-- timestamptz + interval is only STABLE in general (a day or month step depends
-- on the session's zone), but an interval of whole minutes is plain elapsed
-- time, so this function really is immutable, which a generated column needs.
CREATE OR REPLACE FUNCTION appointment_span(starts_at TIMESTAMPTZ, minutes INTEGER) RETURNS TSTZRANGE
    LANGUAGE SQL IMMUTABLE PARALLEL SAFE
    AS $$ SELECT tstzrange(starts_at, starts_at + make_interval(mins => minutes), '[)') $$;

ALTER TABLE appointments ADD COLUMN during TSTZRANGE
    GENERATED ALWAYS AS (appointment_span(starts_at, duration_minutes)) STORED;

-- One business never has two live appointments that overlap: two customers
-- racing for one slot get one row and one exclusion violation (SQLSTATE 23P01),
-- whatever the application checked before. Cancelled ones free their time.
-- btree_gist ships with PostgreSQL (contrib) and is a trusted extension, so the
-- database owner may create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap
    EXCLUDE USING gist (business_id WITH =, during WITH &&) WHERE (status <> 'cancelled');

-- Time the owner keeps free (holidays, a day off, a supplier visit).
CREATE TABLE blocked_times (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id UUID NOT NULL REFERENCES businesses(id),
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    reason      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX idx_blocked_times_business ON blocked_times(business_id, starts_at);
