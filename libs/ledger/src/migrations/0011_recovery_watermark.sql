-- Crash recovery reads no history: every attempt below this seq has been settled or needs nothing
-- more (a pass of crash recovery moves it up), so a start-up checks only the attempts after it.
CREATE TABLE recovery_watermark (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq bigint  NOT NULL
);
