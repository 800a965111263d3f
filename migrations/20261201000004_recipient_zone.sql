-- The customer's own time zone when Twilio tells us their state (FromState):
-- non-reply texts keep 08:00-20:00 in the recipient's zone, not the business's.
ALTER TABLE leads ADD COLUMN time_zone TEXT;
ALTER TABLE messages ADD COLUMN sender_state TEXT;
