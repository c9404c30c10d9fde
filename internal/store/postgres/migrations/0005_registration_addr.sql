-- Find the registration of a device by the source address of a Send.
CREATE INDEX registrations_addr ON registrations (addr);
