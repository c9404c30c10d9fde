-- One pending activation per user and device, even when two start at once.
CREATE UNIQUE INDEX activations_one_pending ON activations (device_id, user_id) WHERE status = 'pending';
