package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/convs"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store"
)

func apiUser(u *wache.User) api.User {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return api.User{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, UnitID: u.UnitID, Roles: roles}
}

func apiDevice(d *wache.Device) api.Device {
	return api.Device{ID: d.ID, Name: d.Name, SigningKey: d.SigningKey, CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt, RevokedAt: d.RevokedAt}
}

func apiEnvelope(e *wache.Envelope) api.Envelope {
	return api.Envelope{ConvID: e.ConvID, Seq: e.Seq, SenderID: e.SenderID, SenderDevice: e.SenderDevice,
		ClientID: e.ClientID, Kind: string(e.Kind), Epoch: e.Epoch, CreatedAt: e.CreatedAt, Payload: e.Payload,
		Priority: e.Priority, AckRequired: e.AckRequired}
}

func apiDeviceMessage(m *wache.DeviceMessage) api.DeviceMessage {
	return api.DeviceMessage{ID: m.ID, ConvID: m.ConvID, SenderDevice: m.SenderDevice, Kind: m.Kind, CreatedAt: m.CreatedAt, Payload: m.Payload}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		writeError(w, r, &wache.Error{Code: wache.EUNAVAILABLE, Message: "database unreachable", Err: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "live_sessions": s.Relay.Hub().Sessions()})
}

func (s *Server) handleRequestCode() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.CodeRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.Accounts.RequestCode(r.Context(), req.Email); err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "code sent"})
	}
}

func (s *Server) handleVerify() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.VerifyRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		sess, err := s.Accounts.Verify(r.Context(), accounts.VerifyRequest{
			Email: req.Email, Code: req.Code, DeviceName: req.DeviceName, SigningKey: req.SigningKey, Signature: req.Signature,
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, api.VerifyResponse{Token: sess.Token, User: apiUser(sess.User), Device: apiDevice(sess.Device)})
	}
}

func (s *Server) handleMe() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d := caller(r)
		dev := apiDevice(d)
		dev.Current = true
		writeJSON(w, http.StatusOK, api.Me{User: apiUser(u), Device: dev})
	}
}

func (s *Server) handleUsers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		q := r.URL.Query().Get("q")
		if len(q) > 100 {
			writeError(w, r, wache.Errorf(wache.EINVALID, "search text is longer than 100 characters"))
			return
		}
		users, err := s.Store.Users(r.Context(), u.OrgID, q, 50)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]api.User, 0, len(users))
		for i := range users {
			au := apiUser(&users[i])
			au.Roles = nil // the directory shows names, not privileges
			out = append(out, au)
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": out})
	}
}

func (s *Server) handleDevices() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, me := caller(r)
		ds, err := s.Accounts.Devices(r.Context(), u.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]api.Device, 0, len(ds))
		for i := range ds {
			d := apiDevice(&ds[i])
			d.Current = ds[i].ID == me.ID
			out = append(out, d)
		}
		writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	}
}

func (s *Server) handleRevokeDevice() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		if err := s.Accounts.RevokeDevice(r.Context(), u, r.PathValue("id")); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleCreateConversation() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		var req api.CreateConversationRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		c, existing, err := s.Convs.Create(r.Context(), u, convs.CreateRequest{Kind: wache.ConvKind(req.Kind), Name: req.Name, Members: req.Members})
		if err != nil {
			writeError(w, r, err)
			return
		}
		status := http.StatusCreated
		if existing {
			status = http.StatusOK
		}
		out := apiConv(c)
		out.Existing = existing
		writeJSON(w, status, out)
	}
}

func apiConv(c *wache.Conversation) api.Conversation {
	return api.Conversation{ID: c.ID, Kind: string(c.Kind), Name: c.Name, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, LastSeq: c.LastSeq, Epoch: c.Epoch}
}

func (s *Server) handleConversations() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d := caller(r)
		list, err := s.Convs.List(r.Context(), u)
		if err != nil {
			writeError(w, r, err)
			return
		}
		cursors, err := s.Relay.Cursors(r.Context(), d)
		if err != nil {
			writeError(w, r, err)
			return
		}
		acked := make(map[string]int64, len(cursors))
		for _, c := range cursors {
			acked[c.ConvID] = c.AckedSeq
		}
		out := make([]api.Conversation, 0, len(list))
		for _, cs := range list {
			c := convSummary(cs)
			c.AckedSeq = acked[cs.ID]
			if c.LastSeq > c.AckedSeq {
				n, err := s.Store.CountAppEnvelopes(r.Context(), cs.ID, c.AckedSeq, 1000)
				if err != nil {
					writeError(w, r, err)
					return
				}
				c.Unread = int64(n)
			}
			out = append(out, c)
		}
		writeJSON(w, http.StatusOK, map[string]any{"conversations": out})
	}
}

func convSummary(cs store.ConvSummary) api.Conversation {
	c := apiConv(&cs.Conversation)
	c.Role = string(cs.Role)
	c.MemberCount = cs.MemberCount
	return c
}

func (s *Server) handleConversation() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		c, me, members, err := s.Convs.Get(r.Context(), u, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := apiConv(c)
		out.Role = string(me.Role)
		out.MemberCount = len(members)
		for _, m := range members {
			out.Members = append(out.Members, api.Member{UserID: m.UserID, Email: m.Email, DisplayName: m.DisplayName, Role: string(m.Role), JoinedAt: m.JoinedAt})
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleAddMember() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		var req api.AddMemberRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		m, err := s.Convs.AddMember(r.Context(), u, r.PathValue("id"), req.Email, wache.MemberRole(req.Role))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"user_id": m.UserID, "role": m.Role, "from_seq": m.FromSeq})
	}
}

func (s *Server) handleRemoveMember() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		if err := s.Convs.RemoveMember(r.Context(), u, r.PathValue("id"), r.PathValue("user")); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handlePostEnvelope() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d := caller(r)
		var req api.PostEnvelopeRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		res, err := s.Relay.Post(r.Context(), u, d, r.PathValue("id"), relay.Message{
			ClientID: req.ClientID, Kind: wache.EnvelopeKind(req.Kind), Epoch: req.Epoch, Payload: req.Payload,
			Priority: req.Priority, AckRequired: req.AckRequired, RemindAfter: req.RemindAfter})
		if err != nil {
			writeError(w, r, err)
			return
		}
		status := http.StatusCreated
		if res.Duplicate {
			status = http.StatusOK
		}
		writeJSON(w, status, api.PostEnvelopeResponse{Seq: res.Seq, CreatedAt: res.CreatedAt, Duplicate: res.Duplicate})
	}
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, wache.Errorf(wache.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

func (s *Server) handleEnvelopes() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		after, err := queryInt(r, "after", 0)
		if err != nil {
			writeError(w, r, err)
			return
		}
		limit, err := queryInt(r, "limit", 100)
		if err != nil {
			writeError(w, r, err)
			return
		}
		envs, err := s.Relay.Fetch(r.Context(), u, r.PathValue("id"), after, int(min(limit, 1000)))
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := api.Envelopes{Envelopes: make([]api.Envelope, 0, len(envs))}
		for i := range envs {
			out.Envelopes = append(out.Envelopes, apiEnvelope(&envs[i]))
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleAck() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d := caller(r)
		var req api.AckRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.Relay.Ack(r.Context(), d, r.PathValue("id"), req.Seq); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
