// Package client is Wache's client core: the API client, the device
// identity, the local state, the outbox retry rules and the inbox that
// makes delivery exactly-once. The CLI uses it natively; the browser app
// will run it compiled to WebAssembly, so nothing here may depend on an OS.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// Client talks to one Wache server as one device.
type Client struct {
	server string // base URL without trailing slash
	token  string
	hc     *http.Client
}

// New returns a client for the server at base URL. token may be "" before login.
func New(server, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, wache.Errorf(wache.EINVALID, "server must be an http(s) URL, e.g. https://wache.polizei.example")
	}
	return &Client{server: u.String(), token: token, hc: &http.Client{Timeout: 30 * time.Second, Transport: transport}}, nil
}

// transport is shared by all clients of the process (the CLI has one; the
// load generator and tests have many): more idle connections per host than
// net/http's default of 2, so concurrent requests reuse connections.
var transport = func() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

// Server returns the server's base URL.
func (c *Client) Server() string { return c.server }

// SetToken sets the device token after login.
func (c *Client) SetToken(t string) { c.token = t }

// Token returns the device token (for tools that run several devices).
func (c *Client) Token() string { return c.token }

// do sends a JSON request and decodes a JSON response into out (if non-nil).
// Server errors come back as *wache.Error with the server's code.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+api.Version+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &wache.Error{Code: wache.EUNAVAILABLE, Message: "server unreachable: " + c.server, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return responseError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return &wache.Error{Code: wache.EUNAVAILABLE, Message: "unreadable server response", Err: err}
	}
	return nil
}

// responseError turns an error response into a *wache.Error with the
// server's code and message.
func responseError(resp *http.Response) error {
	var e api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		return &wache.Error{Code: e.Error.Code, Message: e.Error.Message}
	}
	code := wache.EINTERNAL
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout {
		code = wache.EUNAVAILABLE
	}
	return wache.Errorf(code, "server answered %s", resp.Status)
}

// Retryable reports whether an operation may succeed if repeated unchanged.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch wache.ErrorCode(err) {
	case wache.EUNAVAILABLE, wache.EINTERNAL, wache.ERATELIMIT:
		return true
	}
	return false
}

// RequestCode asks the server to mail a login code.
func (c *Client) RequestCode(ctx context.Context, email string) error {
	return c.do(ctx, "POST", "/auth/code", api.CodeRequest{Email: email}, nil)
}

// Me returns the logged-in user and device.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	var out api.Me
	return &out, c.do(ctx, "GET", "/me", nil, &out)
}

// Devices lists the user's devices.
func (c *Client) Devices(ctx context.Context) ([]api.Device, error) {
	var out struct {
		Devices []api.Device `json:"devices"`
	}
	return out.Devices, c.do(ctx, "GET", "/devices", nil, &out)
}

// RevokeDevice revokes one of the user's devices.
func (c *Client) RevokeDevice(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/devices/"+url.PathEscape(id), nil, nil)
}

// Users searches the directory of colleagues.
func (c *Client) Users(ctx context.Context, q string) ([]api.User, error) {
	var out struct {
		Users []api.User `json:"users"`
	}
	return out.Users, c.do(ctx, "GET", "/users?q="+url.QueryEscape(q), nil, &out)
}

// CreateConversation creates a conversation (or returns an existing direct chat).
func (c *Client) CreateConversation(ctx context.Context, r api.CreateConversationRequest) (*api.Conversation, error) {
	var out api.Conversation
	return &out, c.do(ctx, "POST", "/conversations", r, &out)
}

// Conversations lists the user's conversations with this device's unread counts.
func (c *Client) Conversations(ctx context.Context) ([]api.Conversation, error) {
	var out struct {
		Conversations []api.Conversation `json:"conversations"`
	}
	return out.Conversations, c.do(ctx, "GET", "/conversations", nil, &out)
}

// Conversation returns one conversation with its members.
func (c *Client) Conversation(ctx context.Context, id string) (*api.Conversation, error) {
	var out api.Conversation
	return &out, c.do(ctx, "GET", "/conversations/"+url.PathEscape(id), nil, &out)
}

// AddMember adds a colleague to a conversation.
func (c *Client) AddMember(ctx context.Context, convID, email, role string) error {
	return c.do(ctx, "POST", "/conversations/"+url.PathEscape(convID)+"/members", api.AddMemberRequest{Email: email, Role: role}, nil)
}

// RemoveMember removes a user from a conversation.
func (c *Client) RemoveMember(ctx context.Context, convID, userID string) error {
	return c.do(ctx, "DELETE", "/conversations/"+url.PathEscape(convID)+"/members/"+url.PathEscape(userID), nil, nil)
}

// PostOnce sends one envelope without retrying.
func (c *Client) PostOnce(ctx context.Context, convID string, req api.PostEnvelopeRequest) (*api.PostEnvelopeResponse, error) {
	var out api.PostEnvelopeResponse
	return &out, c.do(ctx, "POST", "/conversations/"+url.PathEscape(convID)+"/envelopes", req, &out)
}

// Post sends an application message; see PostEnvelope.
func (c *Client) Post(ctx context.Context, convID, clientID string, payload []byte) (*api.PostEnvelopeResponse, error) {
	return c.PostEnvelope(ctx, convID, api.PostEnvelopeRequest{ClientID: clientID, Payload: payload})
}

// PostEnvelope sends an envelope and retries transient failures with
// backoff until ctx ends. The client id makes retries safe: the server
// stores it once. A commit for a stale epoch comes back as ECONFLICT and is
// not retried: the caller must catch up and make a new commit.
func (c *Client) PostEnvelope(ctx context.Context, convID string, req api.PostEnvelopeRequest) (*api.PostEnvelopeResponse, error) {
	b := Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	for {
		res, err := c.PostOnce(ctx, convID, req)
		if err == nil || !Retryable(err) {
			return res, err
		}
		if werr := b.Wait(ctx); werr != nil {
			return nil, fmt.Errorf("%w (last error: %v)", werr, err)
		}
	}
}

// Envelopes fetches a conversation's envelopes after seq.
func (c *Client) Envelopes(ctx context.Context, convID string, after int64, limit int) ([]api.Envelope, error) {
	var out api.Envelopes
	return out.Envelopes, c.do(ctx, "GET", fmt.Sprintf("/conversations/%s/envelopes?after=%d&limit=%d", url.PathEscape(convID), after, limit), nil, &out)
}

// Ack acknowledges everything up to seq in a conversation for this device.
func (c *Client) Ack(ctx context.Context, convID string, seq int64) error {
	return c.do(ctx, "POST", "/conversations/"+url.PathEscape(convID)+"/ack", api.AckRequest{Seq: seq}, nil)
}

// Backoff is exponential backoff with jitter.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Wait sleeps for the next interval or until ctx ends.
func (b *Backoff) Wait(ctx context.Context) error {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	d := b.cur/2 + time.Duration(jitter(int64(b.cur/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reset starts the backoff over after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// UploadKeyPackages stocks this device's KeyPackages on the server and
// returns how many it holds now.
func (c *Client) UploadKeyPackages(ctx context.Context, kps [][]byte) (int, error) {
	var out api.KeyPackageCount
	return out.Count, c.do(ctx, "POST", "/keypackages", api.KeyPackagesRequest{KeyPackages: kps}, &out)
}

// KeyPackageCount returns how many KeyPackages the server holds for this device.
func (c *Client) KeyPackageCount(ctx context.Context) (int, error) {
	var out api.KeyPackageCount
	return out.Count, c.do(ctx, "GET", "/keypackages/count", nil, &out)
}

// ClaimDeviceKeyPackages takes one KeyPackage of each of these devices.
func (c *Client) ClaimDeviceKeyPackages(ctx context.Context, deviceIDs []string) (*api.ClaimResponse, error) {
	var out api.ClaimResponse
	return &out, c.do(ctx, "POST", "/keypackages/claim", api.ClaimRequest{Devices: deviceIDs}, &out)
}

// ClaimKeyPackages takes one KeyPackage of every active device of the users.
func (c *Client) ClaimKeyPackages(ctx context.Context, emails []string) (*api.ClaimResponse, error) {
	var out api.ClaimResponse
	return &out, c.do(ctx, "POST", "/keypackages/claim", api.ClaimRequest{Users: emails}, &out)
}

// UserDevices returns the devices the server vouches for of a user.
func (c *Client) UserDevices(ctx context.Context, userID string) ([]api.DirectoryDevice, error) {
	var out struct {
		Devices []api.DirectoryDevice `json:"devices"`
	}
	return out.Devices, c.do(ctx, "GET", "/users/"+url.PathEscape(userID)+"/devices", nil, &out)
}

// PostWelcomes routes MLS Welcomes to new devices of a conversation.
func (c *Client) PostWelcomes(ctx context.Context, convID string, msgs []api.OutgoingDeviceMessage) error {
	return c.do(ctx, "POST", "/conversations/"+url.PathEscape(convID)+"/welcome", api.WelcomeRequest{Messages: msgs}, nil)
}

// DeviceMessages returns this device's pending Welcomes.
func (c *Client) DeviceMessages(ctx context.Context) ([]api.DeviceMessage, error) {
	var out struct {
		Messages []api.DeviceMessage `json:"messages"`
	}
	return out.Messages, c.do(ctx, "GET", "/device-messages", nil, &out)
}

// AckDeviceMessage deletes a processed Welcome.
func (c *Client) AckDeviceMessage(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/device-messages/"+url.PathEscape(id), nil, nil)
}

// DirectoryDevice returns who the server says owns a device, with its key.
func (c *Client) DirectoryDevice(ctx context.Context, deviceID string) (*api.DirectoryDevice, error) {
	var out api.DirectoryDevice
	return &out, c.do(ctx, "GET", "/directory/devices/"+url.PathEscape(deviceID), nil, &out)
}
