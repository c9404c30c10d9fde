package device

import (
	"context"
	"time"
)

// schedule runs the device's timing until ctx is done: in queue mode it
// sleeps once the awake time is over and wakes up for the next Update;
// otherwise it keeps its socket and sends Update when the registration
// must be refreshed (see settings.refreshInterval).
func (c *Client) schedule(ctx context.Context) {
	timer := time.NewTimer(time.Until(c.nextStep()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-timer.C:
			c.step(ctx)
		}
		timer.Reset(time.Until(c.nextStep()))
	}
}

// nextStep is when the scheduler has something to do next.
func (c *Client) nextStep() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.QueueMode && c.conn != nil && c.awakeUntil.Before(c.nextUplink) {
		return c.awakeUntil
	}
	return c.nextUplink
}

// step sends the Update that is due, or puts the device to sleep.
func (c *Client) step(ctx context.Context) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	due := !now.Before(c.nextUplink)
	sleepy := c.cfg.QueueMode && c.conn != nil && !now.Before(c.awakeUntil)
	c.mu.Unlock()
	switch {
	case due:
		_ = c.uplink(ctx) // a failure is an event and is retried
	case sleepy:
		c.sleep(now)
	}
}

// sleep closes the socket until the next Update: after SleepTime, or when
// the registration must be refreshed if that comes first.
func (c *Client) sleep(now time.Time) {
	c.mu.Lock()
	if d := c.cfg.SleepTime; d > 0 && now.Add(d).Before(c.nextUplink) {
		c.nextUplink = now.Add(d)
	}
	d := c.nextUplink.Sub(now)
	c.mu.Unlock()
	c.suspendSocket()
	c.emit(Event{Kind: EventSleeping, Sleep: d.Round(time.Millisecond)})
}
