-- The value checks of the tables every missed call writes, as domain types.
--
-- PostgreSQL reads a table's CHECK constraints from their stored text, plans
-- and compiles them for every INSERT and UPDATE statement, and checks all of
-- them on every UPDATE whatever it changes: on these tables that was 4-8 % of
-- the database's CPU at saturation (docs/bench.md, "2026-12-04 evening"). A
-- domain's constraints are compiled once per connection (the type cache) and
-- checked only where a value of the domain is written. The same values are
-- refused as before, with the domain's name in the error.
--
-- Changing a column's type to a domain with a constraint rewrites the table
-- (and rebuilds its indexes) under an exclusive lock: seconds for a million
-- messages.

CREATE DOMAIN e164_phone AS TEXT CHECK (VALUE ~ '^\+[1-9][0-9]{6,14}$');
CREATE DOMAIN non_negative_int AS INTEGER CHECK (VALUE >= 0);
CREATE DOMAIN email_address AS TEXT CHECK (VALUE LIKE '%_@_%');

CREATE DOMAIN call_status AS TEXT
    CHECK (VALUE IN ('ringing', 'answered', 'missed', 'voicemail', 'busy', 'failed'));
CREATE DOMAIN lead_status AS TEXT
    CHECK (VALUE IN ('new', 'contacted', 'qualifying', 'qualified', 'booked',
                     'completed', 'unresponsive', 'opted_out', 'lost'));
CREATE DOMAIN lead_source AS TEXT CHECK (VALUE IN ('missed_call', 'web_form', 'reactivation', 'manual'));
CREATE DOMAIN lead_urgency AS TEXT CHECK (VALUE IN ('emergency', 'soon', 'flexible', 'unknown'));
CREATE DOMAIN conversation_status AS TEXT
    CHECK (VALUE IN ('active', 'human_active', 'follow_up', 'closed_booked',
                     'closed_no_response', 'closed_opted_out', 'closed_manual'));
CREATE DOMAIN run_status AS TEXT
    CHECK (VALUE IN ('active', 'waiting', 'human', 'completed', 'failed', 'cancelled'));
CREATE DOMAIN message_status AS TEXT
    CHECK (VALUE IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'blocked', 'received'));
CREATE DOMAIN message_direction AS TEXT CHECK (VALUE IN ('inbound', 'outbound'));
CREATE DOMAIN message_audience AS TEXT CHECK (VALUE IN ('customer', 'owner'));
CREATE DOMAIN message_sender AS TEXT CHECK (VALUE IN ('caller', 'ai', 'human', 'system'));
CREATE DOMAIN sms_validity_seconds AS INTEGER CHECK (VALUE BETWEEN 1 AND 36000);
CREATE DOMAIN email_status AS TEXT CHECK (VALUE IN ('queued', 'sending', 'sent', 'failed', 'stored'));

ALTER TABLE calls
    DROP CONSTRAINT calls_caller_phone_check,
    DROP CONSTRAINT calls_status_check,
    DROP CONSTRAINT calls_duration_seconds_check,
    ALTER COLUMN caller_phone TYPE e164_phone,
    ALTER COLUMN status TYPE call_status,
    ALTER COLUMN duration_seconds TYPE non_negative_int;

ALTER TABLE leads
    DROP CONSTRAINT leads_phone_check,
    DROP CONSTRAINT leads_status_check,
    DROP CONSTRAINT leads_source_check,
    DROP CONSTRAINT leads_urgency_check,
    ALTER COLUMN phone TYPE e164_phone,
    ALTER COLUMN status TYPE lead_status,
    ALTER COLUMN source TYPE lead_source,
    ALTER COLUMN urgency TYPE lead_urgency;

ALTER TABLE conversations
    DROP CONSTRAINT conversations_status_check,
    ALTER COLUMN status TYPE conversation_status;

ALTER TABLE workflow_runs
    DROP CONSTRAINT workflow_runs_status_check,
    ALTER COLUMN status TYPE run_status;

ALTER TABLE messages
    DROP CONSTRAINT messages_from_phone_check,
    DROP CONSTRAINT messages_to_phone_check,
    DROP CONSTRAINT messages_direction_check,
    DROP CONSTRAINT messages_audience_check,
    DROP CONSTRAINT messages_sender_type_check,
    DROP CONSTRAINT messages_validity_seconds_check,
    DROP CONSTRAINT messages_status_check,
    DROP CONSTRAINT messages_num_media_check,
    ALTER COLUMN from_phone TYPE e164_phone,
    ALTER COLUMN to_phone TYPE e164_phone,
    ALTER COLUMN direction TYPE message_direction,
    ALTER COLUMN audience TYPE message_audience,
    ALTER COLUMN sender_type TYPE message_sender,
    ALTER COLUMN validity_seconds TYPE sms_validity_seconds,
    ALTER COLUMN status TYPE message_status,
    ALTER COLUMN num_media TYPE non_negative_int;

ALTER TABLE email_outbox
    DROP CONSTRAINT email_outbox_to_address_check,
    DROP CONSTRAINT email_outbox_status_check,
    ALTER COLUMN to_address TYPE email_address,
    ALTER COLUMN status TYPE email_status;
