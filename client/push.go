package client

import (
	"context"

	"github.com/wache/wache/api"
)

// VAPIDKey returns the server's Web Push application server key
// (base64url), for PushManager.subscribe({applicationServerKey}).
func (c *Client) VAPIDKey(ctx context.Context) (string, error) {
	var k api.VAPIDKey
	if err := c.do(ctx, "GET", "/push/vapid-key", nil, &k); err != nil {
		return "", err
	}
	return k.PublicKey, nil
}

// SubscribePush registers this device's push subscription (the browser's
// PushSubscription.toJSON()); registering it again refreshes its keys. It
// returns how many subscriptions the device holds (at most a few: the
// oldest are dropped).
func (c *Client) SubscribePush(ctx context.Context, sub api.PushSubscription) (int, error) {
	var out api.PushSubscriptions
	if err := c.do(ctx, "POST", "/push/subscriptions", sub, &out); err != nil {
		return 0, err
	}
	return out.Count, nil
}

// UnsubscribePush removes this device's subscription with that endpoint.
func (c *Client) UnsubscribePush(ctx context.Context, endpoint string) error {
	return c.do(ctx, "DELETE", "/push/subscriptions", api.PushUnsubscribe{Endpoint: endpoint}, nil)
}
