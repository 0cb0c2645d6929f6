package server

import (
	"bytes"
	"net/http"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client/mls"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store"
)

// maxClaimUsers bounds one KeyPackage claim (adding a whole unit is
// several calls); claims use up other devices' KeyPackages, so they are
// also limited to the caller's organisation.
const maxClaimUsers = 100

func (s *Server) handleUploadKeyPackages() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d := caller(r)
		var req api.KeyPackagesRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if len(req.KeyPackages) == 0 || len(req.KeyPackages) > 100 {
			writeError(w, r, wache.Errorf(wache.EINVALID, "upload 1 to 100 KeyPackages at a time"))
			return
		}
		u, _ := caller(r)
		want, err := mls.FormatCredentialIdentity(u.Email, d.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		kps := make([]store.KeyPackage, len(req.KeyPackages))
		for i, b := range req.KeyPackages {
			// The authentication service: a KeyPackage must carry this
			// device's identity and the key it enrolled with.
			info, err := mls.ParseKeyPackage(b)
			if err != nil {
				writeError(w, r, wache.Errorf(wache.EINVALID, "KeyPackage %d is not a valid MLS KeyPackage", i+1))
				return
			}
			if info.Identity != want || !bytes.Equal(info.SigKey, d.SigningKey) {
				writeError(w, r, wache.Errorf(wache.EFORBIDDEN, "KeyPackage %d does not carry this device's identity and key", i+1))
				return
			}
			kps[i] = store.KeyPackage{ID: accounts.NewID(), Data: b}
		}
		if err := s.Store.AddKeyPackages(r.Context(), d.ID, kps); err != nil {
			writeError(w, r, err)
			return
		}
		n, err := s.Store.KeyPackageCount(r.Context(), d.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, api.KeyPackageCount{Count: n})
	}
}

func (s *Server) handleKeyPackageCount() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d := caller(r)
		n, err := s.Store.KeyPackageCount(r.Context(), d.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, api.KeyPackageCount{Count: n})
	}
}

func (s *Server) handleClaimKeyPackages() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		var req api.ClaimRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if (len(req.Users) == 0) == (len(req.Devices) == 0) || len(req.Users) > maxClaimUsers || len(req.Devices) > maxClaimUsers {
			writeError(w, r, wache.Errorf(wache.EINVALID, "claim for 1 to %d users or devices at a time (not both)", maxClaimUsers))
			return
		}
		emails := map[string]string{}
		var claimed []store.ClaimedKeyPackage
		var missing []string
		var err error
		if len(req.Devices) > 0 {
			for _, id := range req.Devices {
				d, err := s.Store.Device(r.Context(), id)
				var owner *wache.User
				if err == nil {
					owner, err = s.Store.User(r.Context(), d.UserID)
				}
				if err != nil || owner.OrgID != u.OrgID {
					writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such device %q", id))
					return
				}
				emails[owner.ID] = owner.Email
			}
			claimed, missing, err = s.Store.ClaimDeviceKeyPackages(r.Context(), req.Devices)
		} else {
			ids := make([]string, 0, len(req.Users))
			for _, e := range req.Users {
				target, err := s.Convs.UserByEmail(r.Context(), u, e)
				if err != nil {
					writeError(w, r, err)
					return
				}
				if _, dup := emails[target.ID]; !dup {
					ids = append(ids, target.ID)
					emails[target.ID] = target.Email
				}
			}
			claimed, missing, err = s.Store.ClaimKeyPackages(r.Context(), ids)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := api.ClaimResponse{KeyPackages: make([]api.ClaimedKeyPackage, 0, len(claimed)), MissingDevices: missing}
		for _, c := range claimed {
			out.KeyPackages = append(out.KeyPackages, api.ClaimedKeyPackage{UserID: c.UserID, Email: emails[c.UserID],
				DeviceID: c.DeviceID, SigningKey: c.SigningKey, KeyPackage: c.Data})
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// handleUserDevices is the authentication service's directory: which
// signing keys belong to which devices of a colleague (revoked included,
// so that clients can remove them from groups).
func (s *Server) handleUserDevices() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		target, err := s.Store.User(r.Context(), r.PathValue("id"))
		if err != nil || target.OrgID != u.OrgID {
			writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such user"))
			return
		}
		ds, err := s.Store.Devices(r.Context(), target.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]api.DirectoryDevice, 0, len(ds))
		for _, d := range ds {
			out = append(out, api.DirectoryDevice{DeviceID: d.ID, UserID: target.ID, Email: target.Email, SigningKey: d.SigningKey, RevokedAt: d.RevokedAt})
		}
		writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	}
}

func (s *Server) handlePostWelcome() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d := caller(r)
		var req api.WelcomeRequest
		r.Body = http.MaxBytesReader(w, r.Body, 8<<20) // Welcomes for many devices
		if err := decodeLarge(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		ws := make([]relay.Welcome, len(req.Messages))
		for i, m := range req.Messages {
			ws[i] = relay.Welcome{DeviceID: m.DeviceID, Payload: m.Payload}
		}
		if err := s.Relay.PostWelcomes(r.Context(), u, d, r.PathValue("id"), ws); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleDeviceMessages() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d := caller(r)
		ms, err := s.Relay.DeviceMessages(r.Context(), d, 100)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]api.DeviceMessage, 0, len(ms))
		for i := range ms {
			out = append(out, apiDeviceMessage(&ms[i]))
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": out})
	}
}

func (s *Server) handleAckDeviceMessage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d := caller(r)
		if err := s.Relay.AckDeviceMessage(r.Context(), d, r.PathValue("id")); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleDirectoryDevice answers "whose key is this device's?" for MLS
// credential checks of members seen in Welcomes and commits.
func (s *Server) handleDirectoryDevice() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := caller(r)
		d, err := s.Store.Device(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such device"))
			return
		}
		owner, err := s.Store.User(r.Context(), d.UserID)
		if err != nil || owner.OrgID != u.OrgID {
			writeError(w, r, wache.Errorf(wache.ENOTFOUND, "no such device"))
			return
		}
		writeJSON(w, http.StatusOK, api.DirectoryDevice{DeviceID: d.ID, UserID: owner.ID, Email: owner.Email, SigningKey: d.SigningKey, RevokedAt: d.RevokedAt})
	}
}
