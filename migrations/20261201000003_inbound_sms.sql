-- Inbound texts: media-only messages keep their count (the body may be empty).
ALTER TABLE messages ADD COLUMN num_media INTEGER NOT NULL DEFAULT 0 CHECK (num_media >= 0);
