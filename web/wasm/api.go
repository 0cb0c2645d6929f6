//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"syscall/js"
	"time"
	"unicode/utf8"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/client/attach"
)

func (b *bridge) methods() map[string]method {
	return map[string]method{
		"init": b.init, "requestCode": b.requestCode, "verify": b.verify,
		"unlock": b.unlock, "lock": b.lock, "logout": b.logout, "setAutoLock": b.setAutoLock,
		"me": b.me, "chats": b.chats, "createChat": b.createChat, "chat": b.chat,
		"addMember": b.addMember, "removeMember": b.removeMember, "users": b.users,
		"messages": b.messages, "send": b.send, "sendFile": b.sendFile, "fetchFile": b.fetchFile,
		"sendLocation": b.sendLocation, "startLiveLocation": b.startLiveLocation,
		"updateLiveLocation": b.updateLiveLocation, "stopLiveLocation": b.stopLiveLocation,
		"markRead": b.markRead, "devices": b.devices, "revokeDevice": b.revokeDevice,
		"saveDraft": b.saveDraft, "draft": b.draft, "bench": b.bench,
		// activity: the UI reports user input (keys, taps), which holds off
		// the auto-lock like any active call.
		"activity": func(context.Context, []js.Value) (any, error) { return nil, nil },
	}
}

// msg is a message as the UI gets it (the contract's shape).
type msg struct {
	ConvID        string           `json:"conv_id"`
	Seq           int64            `json:"seq"`
	LocalID       string           `json:"local_id"`
	SenderID      string           `json:"sender_id"`
	SenderEmail   string           `json:"sender_email"`
	SenderName    string           `json:"sender_name"`
	Mine          bool             `json:"mine"`
	Time          time.Time        `json:"time"`
	Type          string           `json:"type"`
	Text          string           `json:"text,omitempty"`
	ReplyTo       *replyRef        `json:"reply_to,omitempty"`
	Attachment    *attachInfo      `json:"attachment,omitempty"`
	Location      *client.Location `json:"location,omitempty"`
	Status        string           `json:"status"`
	Error         string           `json:"error,omitempty"`
	Undecryptable bool             `json:"undecryptable,omitempty"`
	Reason        string           `json:"undecryptable_reason,omitempty"`
}

type replyRef struct {
	Seq     int64  `json:"seq"`
	Excerpt string `json:"excerpt"`
	Sender  string `json:"sender"`
}

type attachInfo struct {
	Name      string `json:"name"`
	MIME      string `json:"mime"`
	Size      int64  `json:"size"`
	Thumbnail string `json:"thumbnail,omitempty"`
}

func (s *session) name(userID, email string) string {
	s.mu.Lock()
	n := s.names[userID]
	s.mu.Unlock()
	if n == "" {
		return email
	}
	return n
}

func (s *session) rememberMembers(c *api.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range c.Members {
		if m.DisplayName != "" {
			s.names[m.UserID] = m.DisplayName
		}
	}
}

// ensureNames learns the display names of a conversation's members once
// (messages carry only ids and emails); offline it tries again later.
func (s *session) ensureNames(ctx context.Context, conv string, ids ...string) {
	s.mu.Lock()
	missing := false
	for _, id := range ids {
		if _, ok := s.names[id]; !ok {
			missing = true
		}
	}
	tried := s.named[conv]
	s.mu.Unlock()
	if !missing || tried {
		return
	}
	c, err := s.m.API.Conversation(ctx, conv)
	if err != nil {
		return
	}
	s.rememberMembers(c)
	s.mu.Lock()
	s.named[conv] = true
	s.mu.Unlock()
}

func (s *session) toMsg(e client.Entry) msg {
	email := e.SenderEmail
	if e.Mine && email == "" {
		email = s.prof.Email
	}
	m := msg{ConvID: e.ConvID, Seq: e.Seq, LocalID: e.LocalID, SenderID: e.SenderID, SenderEmail: email,
		SenderName: s.name(e.SenderID, email), Mine: e.Mine, Time: e.Time, Type: e.Payload.Type,
		Text: e.Payload.Text, Location: e.Payload.Location, Status: e.Status, Error: e.Error}
	if m.LocalID == "" {
		m.LocalID = "s" + itoa(e.Seq)
	}
	if q := e.Payload.ReplyTo; q != nil {
		m.ReplyTo = &replyRef{Seq: q.Seq, Excerpt: q.Excerpt, Sender: q.Sender}
	}
	if a := e.Payload.Attachment; a != nil {
		m.Attachment = &attachInfo{Name: a.Name, MIME: a.MIME, Size: a.Size, Thumbnail: e.Payload.Thumbnail}
	}
	if e.Payload.Type == client.TypeAlarm { // an SOS reads as a note in the chat (alarm.go)
		m.Text, m.Location = alarmText(e.Payload.Alarm), nil
	}
	if e.Undecryptable != "" {
		m.Type, m.Undecryptable, m.Reason = client.TypeUnsupported, true, e.Undecryptable
	}
	switch m.Type {
	case client.TypeText, client.TypeAttachment, client.TypeLocation, client.TypeLiveLocation, client.TypeLiveStop:
	default:
		m.Type = client.TypeUnsupported
	}
	return m
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// onMessage receives every decrypted message from the core (on the
// listener's goroutine): history first, then the UI.
// recordMessage is the core's Record hook: the message goes into the
// history before its envelope counts as processed. The changed entries
// wait for onMessage, which shows them once the core lets go of its lock.
func (b *bridge) recordMessage(ctx context.Context, s *session, m client.Message) error {
	es, err := s.hist.Record(ctx, m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.recorded) > 1000 { // envelopes that failed after recording: shown on the next load
		clear(s.recorded)
	}
	if len(es) > 0 || s.recorded[recordKey(m)] == nil {
		// A redelivery after a failed attempt records nothing new: what
		// the first attempt recorded is still to be shown.
		s.recorded[recordKey(m)] = es
	}
	s.mu.Unlock()
	return nil
}

func recordKey(m client.Message) string { return m.ConvID + "/" + itoa(m.Seq) }

func (b *bridge) onMessage(ctx context.Context, s *session, m client.Message) {
	b.alarmOnMessage(ctx, s, m) // priority index, alarm views (alarm.go)
	s.mu.Lock()
	es := s.recorded[recordKey(m)]
	delete(s.recorded, recordKey(m))
	s.mu.Unlock()
	if len(es) > 0 {
		s.ensureNames(ctx, m.ConvID, m.SenderID)
	}
	for _, e := range es {
		b.emit("message", map[string]any{"conv_id": e.ConvID, "message": s.toMsg(e)})
	}
	if len(es) > 0 {
		b.chatsChanged()
	}
	if m.SenderID != s.prof.UserID && m.Payload.Type != client.TypeReceipt && m.Seq > 0 {
		s.mu.Lock()
		if m.Seq > s.receipt[m.ConvID] {
			s.receipt[m.ConvID] = m.Seq
		}
		s.mu.Unlock()
	}
}

// receipts sends "delivered" receipts, one per conversation for the newest
// message received, at most every two seconds (a receipt covers everything
// before it), not in channels (hundreds of readers).
func (b *bridge) receipts(ctx context.Context, s *session) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		due := map[string]int64{}
		for conv, seq := range s.receipt {
			if seq > s.sentRcpt[conv] && s.convs[conv].Kind != "channel" {
				due[conv] = seq
			}
			delete(s.receipt, conv)
		}
		s.mu.Unlock()
		for conv, seq := range due {
			b.sendReceipt(ctx, s, conv, "delivered", seq)
		}
	}
}

func (b *bridge) sendReceipt(ctx context.Context, s *session, conv, kind string, seq int64) {
	s.sendMu.Lock()
	_, err := s.m.Queue(ctx, conv, client.Payload{V: 1, Type: client.TypeReceipt, Receipt: &client.Receipt{Kind: kind, Seq: seq}})
	s.sendMu.Unlock()
	if err != nil {
		b.log.Warn("receipt", "conv", conv, "err", err)
		return
	}
	s.mu.Lock()
	if seq > s.sentRcpt[conv] {
		s.sentRcpt[conv] = seq
	}
	s.mu.Unlock()
	s.wake()
}

func (b *bridge) me(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	me, err := s.m.API.Me(ctx)
	if err != nil {
		if jsCode(err) != codeNetwork {
			return nil, err
		}
		// Offline: what the device knows about itself.
		return map[string]any{"user": map[string]any{"id": s.prof.UserID, "email": s.prof.Email, "display_name": s.name(s.prof.UserID, s.prof.Email)},
			"device": map[string]any{"id": s.prof.DeviceID, "name": s.prof.DeviceName}}, nil
	}
	s.mu.Lock()
	s.names[me.User.ID] = me.User.DisplayName
	s.mu.Unlock()
	return map[string]any{"user": map[string]any{"id": me.User.ID, "email": me.User.Email, "display_name": me.User.DisplayName, "roles": me.User.Roles},
		"device": map[string]any{"id": me.Device.ID, "name": me.Device.Name}}, nil
}

type chatLast struct {
	Seq        int64     `json:"seq"`
	SenderName string    `json:"sender_name"`
	Time       time.Time `json:"time"`
	Preview    string    `json:"preview"`
}

type chatItem struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Name    string    `json:"name"`
	Unread  int       `json:"unread"`
	Members int       `json:"members"`
	Last    *chatLast `json:"last,omitempty"`
}

const keyChatList = "chatlist" // the last list from the server, for offline starts

// chats lists the conversations with unread counts and previews from the
// local history. Offline, the last list seen is used.
func (b *bridge) chats(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	convs, err := s.m.API.Conversations(ctx)
	if err != nil {
		if jsCode(err) != codeNetwork {
			return nil, err
		}
		raw, lerr := s.vault.Load(ctx, keyChatList)
		if lerr != nil || raw == nil || json.Unmarshal(raw, &convs) != nil {
			return nil, err
		}
	} else if raw, err := json.Marshal(convs); err == nil {
		_ = s.vault.Save(ctx, keyChatList, raw)
	}
	out := make([]chatItem, 0, len(convs))
	for _, c := range convs {
		s.mu.Lock()
		if old, ok := s.convs[c.ID]; ok && len(old.Members) > 0 {
			c.Members = old.Members
		}
		s.convs[c.ID] = c
		s.mu.Unlock()
		it := chatItem{ID: c.ID, Kind: c.Kind, Name: b.chatName(ctx, s, c), Members: c.MemberCount}
		sum, err := s.hist.Summary(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		it.Unread = sum.Unread
		if e := sum.Last; e != nil {
			it.Last = &chatLast{Seq: e.Seq, SenderName: s.name(e.SenderID, e.SenderEmail), Time: e.Time, Preview: preview(e.Payload)}
			if e.Mine {
				it.Last.SenderName = s.name(s.prof.UserID, s.prof.Email)
			}
		}
		out = append(out, it)
	}
	// Newest activity first.
	sortChats(out)
	return out, nil
}

func sortChats(cs []chatItem) {
	key := func(c chatItem) time.Time {
		if c.Last == nil {
			return time.Time{}
		}
		return c.Last.Time
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && key(cs[j]).After(key(cs[j-1])); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// chatName: a direct chat is named after the other person.
func (b *bridge) chatName(ctx context.Context, s *session, c api.Conversation) string {
	if c.Name != "" || c.Kind != "direct" {
		return c.Name
	}
	if len(c.Members) == 0 {
		full, err := s.m.API.Conversation(ctx, c.ID)
		if err != nil {
			return c.Name
		}
		s.rememberMembers(full)
		c.Members = full.Members
		s.mu.Lock()
		cc := s.convs[c.ID]
		cc.Members = full.Members
		s.convs[c.ID] = cc
		s.mu.Unlock()
	}
	for _, m := range c.Members {
		if m.UserID != s.prof.UserID {
			if m.DisplayName != "" {
				return m.DisplayName
			}
			return m.Email
		}
	}
	return c.Name
}

func preview(p client.Payload) string {
	switch p.Type {
	case client.TypeText:
		return excerpt(p.Text, 80)
	case client.TypeAttachment:
		if p.Attachment != nil && p.Attachment.Name != "" {
			return "📎 " + excerpt(p.Attachment.Name, 60)
		}
		return "📎"
	case client.TypeLocation, client.TypeLiveLocation:
		return "📍"
	case client.TypeLiveStop:
		return "📍 —"
	}
	return "…"
}

func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

type chatDetail struct {
	ID      string       `json:"id"`
	Kind    string       `json:"kind"`
	Name    string       `json:"name"`
	Role    string       `json:"role"`
	Members []api.Member `json:"members"`
}

func (b *bridge) chat(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	c, err := s.m.API.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	s.rememberMembers(c)
	s.mu.Lock()
	s.convs[c.ID] = *c
	s.mu.Unlock()
	return chatDetail{ID: c.ID, Kind: c.Kind, Name: b.chatName(ctx, s, *c), Role: c.Role, Members: c.Members}, nil
}

func (b *bridge) createChat(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var req api.CreateConversationRequest
	if err := arg(args, 0, &req); err != nil {
		return nil, err
	}
	c, err := s.m.CreateChat(ctx, req)
	if err != nil {
		return nil, err
	}
	b.chatsChanged()
	return b.chat(ctx, []js.Value{js.ValueOf(c.ID)})
}

func (b *bridge) addMember(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	email, err := argString(args, 1)
	if err != nil {
		return nil, err
	}
	role := ""
	if len(args) > 2 && args[2].Type() == js.TypeString {
		role = args[2].String()
	}
	if err := s.m.AddMember(ctx, conv, email, role); err != nil {
		return nil, err
	}
	b.chatsChanged()
	return nil, nil
}

func (b *bridge) removeMember(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	email, err := argString(args, 1)
	if err != nil {
		return nil, err
	}
	if err := s.m.RemoveMember(ctx, conv, email); err != nil {
		return nil, err
	}
	b.chatsChanged()
	return nil, nil
}

func (b *bridge) users(ctx context.Context, args []js.Value) (any, error) {
	s, q, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	us, err := s.m.API.Users(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(us))
	for _, u := range us {
		out = append(out, map[string]string{"id": u.ID, "email": u.Email, "display_name": u.DisplayName})
	}
	return out, nil
}

func (b *bridge) messages(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	var o struct {
		BeforeSeq int64 `json:"beforeSeq"`
		Limit     int   `json:"limit"`
	}
	if err := arg(args, 1, &o); err != nil {
		return nil, err
	}
	es, err := s.hist.Messages(ctx, conv, o.BeforeSeq, o.Limit)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.SenderID
	}
	s.ensureNames(ctx, conv, ids...)
	out := make([]msg, len(es))
	for i, e := range es {
		out[i] = s.toMsg(e)
	}
	return out, nil
}

// queue encrypts and queues a payload, records it as pending and wakes the
// flusher: the promise resolves at once, online or not.
func (b *bridge) queue(ctx context.Context, s *session, conv, localID string, p client.Payload) (msg, error) {
	if localID == "" {
		localID = client.NewClientID()
	}
	s.sendMu.Lock()
	_, err := s.m.QueueAs(ctx, conv, localID, p)
	s.sendMu.Unlock()
	if err != nil {
		return msg{}, err
	}
	es, err := s.hist.AddPending(ctx, conv, localID, p, time.Now())
	if err != nil {
		return msg{}, err
	}
	s.wake()
	var out msg
	for _, e := range es {
		m := s.toMsg(e)
		b.emit("message", map[string]any{"conv_id": conv, "message": m})
		out = m
	}
	b.chatsChanged()
	return out, nil
}

func (b *bridge) send(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	var o struct {
		Text    string `json:"text"`
		ReplyTo int64  `json:"replyTo"`
	}
	if err := arg(args, 1, &o); err != nil {
		return nil, err
	}
	p := client.Payload{V: 1, Type: client.TypeText, Text: o.Text}
	if o.ReplyTo > 0 {
		q := &client.Quote{Seq: o.ReplyTo}
		if e, err := s.hist.Find(ctx, conv, o.ReplyTo); err == nil && e != nil {
			q.Sender = s.name(e.SenderID, e.SenderEmail)
			q.Excerpt = excerpt(preview(e.Payload), 100)
		}
		p.ReplyTo = q
	}
	m, err := b.queue(ctx, s, conv, "", p)
	if err != nil {
		return nil, err
	}
	_ = s.drafts.Save(ctx, conv, "") // sent: the draft is done
	return m, nil
}

// Largest file the app sends (the blob service has its own limit too).
const maxFile = 200 << 20

// sendFile shows the message as pending at once, uploads the encrypted
// file with progress events, then sends the reference. If the upload
// fails the message becomes failed (the UI offers to send it again).
func (b *bridge) sendFile(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	if len(args) < 2 || args[1].Type() != js.TypeObject {
		return nil, wache.Errorf(wache.EINVALID, "sendFile(convId, {name, mime, data, thumbnail?})")
	}
	o := args[1]
	data := o.Get("data")
	if !data.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, wache.Errorf(wache.EINVALID, "data must be a Uint8Array")
	}
	n := data.Get("length").Int()
	if n == 0 || n > maxFile {
		return nil, wache.Errorf(wache.ETOOLARGE, "a file must have 1 byte to %d MB", maxFile>>20)
	}
	str := func(k string) string {
		if v := o.Get(k); v.Type() == js.TypeString {
			return v.String()
		}
		return ""
	}
	name, mime, thumb := str("name"), str("mime"), str("thumbnail")
	if err := client.ValidateThumbnail(thumb); err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	buf := make([]byte, n)
	js.CopyBytesToGo(buf, data)
	localID := client.NewClientID()
	// Shown at once as pending, without the key (it does not exist yet).
	p := client.Payload{V: 1, Type: client.TypeAttachment, Thumbnail: thumb,
		Attachment: &attach.Ref{Name: name, MIME: mime, Size: int64(n)}}
	es, err := s.hist.AddPending(ctx, conv, localID, p, time.Now())
	if err != nil {
		return nil, err
	}
	first := s.toMsg(es[0])
	b.emit("message", map[string]any{"conv_id": conv, "message": first})
	go b.upload(s, conv, localID, buf, p)
	return first, nil
}

func (b *bridge) upload(s *session, conv, localID string, data []byte, p client.Payload) {
	ctx := context.Background()
	bc, err := s.m.Blobs()
	var ref attach.Ref
	if err == nil {
		ref, err = bc.Upload(ctx, bytes.NewReader(data), int64(len(data)), attach.UploadOptions{ConvID: conv,
			MIME: p.Attachment.MIME, Name: p.Attachment.Name, Progress: func(done, total int64) {
				b.emit("progress", map[string]any{"local_id": localID, "conv_id": conv, "done": done, "total": total, "direction": "up"})
			}})
	}
	if err == nil {
		p.Attachment = &ref
		if err = s.hist.SetPayload(ctx, conv, localID, p); err == nil {
			s.sendMu.Lock()
			_, err = s.m.QueueAs(ctx, conv, localID, p)
			s.sendMu.Unlock()
			s.wake()
		}
	}
	if err != nil {
		es, herr := s.hist.MarkFailed(ctx, conv, localID, jsMessage(jsCode(err), err))
		if herr != nil {
			b.reportError(herr)
		}
		for _, e := range es {
			b.emit("message", map[string]any{"conv_id": conv, "message": s.toMsg(e)})
		}
	}
}

func (b *bridge) fetchFile(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	seq, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	var ref *attach.Ref
	if e, err := s.hist.Find(ctx, conv, seq); err != nil {
		return nil, err
	} else if e != nil && e.Payload.Attachment != nil && len(e.Payload.Attachment.Key) > 0 {
		ref = e.Payload.Attachment
	} else if ref, err = s.m.AttachmentRef(ctx, conv, seq); err != nil {
		return nil, err
	}
	if ref.Size > maxFile {
		return nil, wache.Errorf(wache.ETOOLARGE, "file too large for the browser")
	}
	var buf bytes.Buffer
	buf.Grow(int(ref.Size))
	err = s.m.FetchAttachment(ctx, ref, &buf, func(done, total int64) {
		b.emit("progress", map[string]any{"conv_id": conv, "seq": seq, "done": done, "total": total, "direction": "down"})
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type position struct {
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	Accuracy float64 `json:"accuracy_m"`
}

func (b *bridge) sendLocation(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	var pos position
	if err := arg(args, 1, &pos); err != nil {
		return nil, err
	}
	loc := &client.Location{Lat: pos.Lat, Lon: pos.Lon, Accuracy: pos.Accuracy, Time: time.Now().UTC()}
	if err := client.ValidateLocation(loc); err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	return b.queue(ctx, s, conv, "", client.Payload{V: 1, Type: client.TypeLocation, Location: loc})
}

// startLiveLocation opens a sharing; the UI feeds positions with
// updateLiveLocation (from watchPosition), which go to every conversation
// with an open sharing.
func (b *bridge) startLiveLocation(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	mins, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if mins < 1 || mins > 8*60 {
		return nil, wache.Errorf(wache.EINVALID, "live location lasts 1 to 480 minutes")
	}
	if g, err := s.m.Group(ctx, conv); err != nil {
		return nil, err
	} else if g == nil {
		return nil, wache.Errorf(wache.ECONFLICT, "this device has not joined the conversation's encrypted group yet")
	}
	until := time.Now().Add(time.Duration(mins) * time.Minute).UTC()
	s.mu.Lock()
	s.live[conv] = until
	delete(s.lastLive, conv)
	s.mu.Unlock()
	return map[string]any{"conv_id": conv, "until": until}, nil
}

// minLiveGap drops position updates that come faster than this.
const minLiveGap = 3 * time.Second

func (b *bridge) updateLiveLocation(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var pos position
	if err := arg(args, 0, &pos); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	s.mu.Lock()
	due := map[string]time.Time{}
	for conv, until := range s.live {
		if !until.After(now) {
			delete(s.live, conv)
			continue
		}
		if now.Sub(s.lastLive[conv]) >= minLiveGap {
			due[conv] = until
			s.lastLive[conv] = now
		}
	}
	s.mu.Unlock()
	for conv, until := range due {
		u := until
		loc := &client.Location{Lat: pos.Lat, Lon: pos.Lon, Accuracy: pos.Accuracy, Time: now, LiveUntil: &u}
		if err := client.ValidateLocation(loc); err != nil {
			return nil, wache.Errorf(wache.EINVALID, "%s", err)
		}
		if _, err := b.queue(ctx, s, conv, "", client.Payload{V: 1, Type: client.TypeLiveLocation, Location: loc}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (b *bridge) stopLiveLocation(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, open := s.live[conv]
	delete(s.live, conv)
	s.mu.Unlock()
	if !open {
		return nil, nil
	}
	_, err = b.queue(ctx, s, conv, "", client.Payload{V: 1, Type: client.TypeLiveStop})
	return nil, err
}

// markRead clears the unread count and sends an end-to-end read receipt
// (not in channels).
func (b *bridge) markRead(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	seq, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if seq <= 0 {
		return nil, nil
	}
	if err := s.hist.MarkRead(ctx, conv, seq); err != nil {
		return nil, err
	}
	b.chatsChanged()
	s.mu.Lock()
	c := s.convs[conv]
	already := s.readSent(conv) >= seq
	s.mu.Unlock()
	if c.Kind != "channel" && !already {
		if e, err := s.hist.Find(ctx, conv, seq); err == nil && e != nil && !e.Mine {
			b.sendReceipt(ctx, s, conv, "read", seq)
			s.mu.Lock()
			s.readRcpt[conv] = seq
			s.mu.Unlock()
		}
	}
	return nil, nil
}

func (s *session) readSent(conv string) int64 { return s.readRcpt[conv] }

func (b *bridge) devices(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	ds, err := s.m.API.Devices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		o := map[string]any{"id": d.ID, "name": d.Name, "created_at": d.CreatedAt, "last_seen_at": d.LastSeenAt,
			"current": d.Current || d.ID == s.prof.DeviceID}
		if d.RevokedAt != nil {
			o["revoked_at"] = d.RevokedAt
		}
		out = append(out, o)
	}
	return out, nil
}

func (b *bridge) revokeDevice(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	if err := s.m.API.RevokeDevice(ctx, id); err != nil {
		return nil, err
	}
	if id == s.prof.DeviceID {
		b.revoked()
	}
	return nil, nil
}

func (b *bridge) saveDraft(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	text := ""
	if len(args) > 1 && args[1].Type() == js.TypeString {
		text = args[1].String()
	}
	return nil, s.drafts.Save(ctx, conv, text)
}

func (b *bridge) draft(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	return s.drafts.Load(ctx, conv)
}

// bench measures MLS encryption and decryption of n messages (default
// 200, 1 KiB each) in a local two-device group, without the server.
func (b *bridge) bench(ctx context.Context, args []js.Value) (any, error) {
	n := int64(200)
	if len(args) > 0 && args[0].Type() == js.TypeNumber {
		n = int64(args[0].Int())
	}
	enc, dec, err := client.BenchMLS(int(n), 1024)
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return map[string]any{"n": n, "bytes": 1024, "encrypt_ms": ms(enc), "decrypt_ms": ms(dec)}, nil
}
