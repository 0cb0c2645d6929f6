package client

import (
	"context"
	"unicode/utf8"

	"github.com/wache/wache"
)

// Drafts keep what the user typed but did not send, per conversation, in
// the device State: like the history they are plaintext and belong in the
// encrypted store, not in the browser's localStorage.
type Drafts struct{ st State }

// OpenDrafts returns the drafts kept in st.
func OpenDrafts(st State) *Drafts { return &Drafts{st: st} }

func draftKey(convID string) string { return "d_" + convID }

// Save stores the draft of a conversation; "" removes it.
func (d *Drafts) Save(ctx context.Context, convID, text string) error {
	if convID == "" || len(convID) > 60 {
		return wache.Errorf(wache.EINVALID, "conversation id invalid")
	}
	if !utf8.ValidString(text) || len(text) > MaxText {
		return wache.Errorf(wache.EINVALID, "a draft must be valid UTF-8 of at most %d bytes", MaxText)
	}
	return d.st.Save(ctx, draftKey(convID), []byte(text))
}

// Load returns the draft of a conversation ("" when there is none).
func (d *Drafts) Load(ctx context.Context, convID string) (string, error) {
	if convID == "" || len(convID) > 60 {
		return "", wache.Errorf(wache.EINVALID, "conversation id invalid")
	}
	b, err := d.st.Load(ctx, draftKey(convID))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", corrupt("draft", nil)
	}
	return string(b), nil
}
