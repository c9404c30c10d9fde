-- The content formats a device announced as its preference with ct on the
-- root link of its Register (</>;ct=110), as decimal numbers separated by
-- spaces; empty when it announced none.
ALTER TABLE registrations ADD COLUMN content_format TEXT NOT NULL DEFAULT '';
