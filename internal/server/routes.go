package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the one place that lists every endpoint.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	// Login: public, rate-limited per client address.
	mux.Handle("POST /api/v1/auth/code", s.limited(s.handleRequestCode()))
	mux.Handle("POST /api/v1/auth/verify", s.limited(s.handleVerify()))

	// Everything else needs a device token.
	mux.Handle("GET /api/v1/me", s.authed(s.handleMe()))
	mux.Handle("GET /api/v1/users", s.authed(s.handleUsers()))
	mux.Handle("GET /api/v1/devices", s.authed(s.handleDevices()))
	mux.Handle("DELETE /api/v1/devices/{id}", s.authed(s.handleRevokeDevice()))

	mux.Handle("POST /api/v1/conversations", s.authed(s.handleCreateConversation()))
	mux.Handle("GET /api/v1/conversations", s.authed(s.handleConversations()))
	mux.Handle("GET /api/v1/conversations/{id}", s.authed(s.handleConversation()))
	mux.Handle("POST /api/v1/conversations/{id}/members", s.authed(s.handleAddMember()))
	mux.Handle("DELETE /api/v1/conversations/{id}/members/{user}", s.authed(s.handleRemoveMember()))
	mux.Handle("POST /api/v1/conversations/{id}/envelopes", s.authed(s.handlePostEnvelope()))
	mux.Handle("GET /api/v1/conversations/{id}/envelopes", s.authed(s.handleEnvelopes()))
	mux.Handle("POST /api/v1/conversations/{id}/ack", s.authed(s.handleAck()))

	// MLS delivery and authentication service.
	mux.Handle("POST /api/v1/keypackages", s.authed(s.handleUploadKeyPackages()))
	mux.Handle("GET /api/v1/keypackages/count", s.authed(s.handleKeyPackageCount()))
	mux.Handle("POST /api/v1/keypackages/claim", s.authed(s.handleClaimKeyPackages()))
	mux.Handle("GET /api/v1/users/{id}/devices", s.authed(s.handleUserDevices()))
	mux.Handle("GET /api/v1/directory/devices/{id}", s.authed(s.handleDirectoryDevice()))
	mux.Handle("POST /api/v1/conversations/{id}/welcome", s.authed(s.handlePostWelcome()))
	mux.Handle("GET /api/v1/device-messages", s.authed(s.handleDeviceMessages()))
	mux.Handle("DELETE /api/v1/device-messages/{id}", s.authed(s.handleAckDeviceMessage()))

	mux.Handle("GET /api/v1/ws", s.authed(s.handleWebSocket()))

	// Acknowledgement requests and alarms (issue 6).
	mux.Handle("POST /api/v1/conversations/{id}/envelopes/{seq}/receipt", s.authed(s.handlePostReceipt()))
	mux.Handle("GET /api/v1/conversations/{id}/envelopes/{seq}/receipts", s.authed(s.handleReceipts()))
	mux.Handle("POST /api/v1/conversations/{id}/envelopes/{seq}/close", s.authed(s.handleCloseAckRequest()))
	mux.Handle("GET /api/v1/units", s.authed(s.handleUnits()))
	mux.Handle("PUT /api/v1/units/{id}/alarm-policy", s.authed(s.handlePutAlarmPolicy()))
	mux.Handle("GET /api/v1/alarms/policy", s.authed(s.handleAlarmPolicy()))
	mux.Handle("POST /api/v1/alarms", s.authed(s.handleRaiseAlarm()))
	mux.Handle("GET /api/v1/alarms", s.authed(s.handleAlarms()))
	mux.Handle("GET /api/v1/alarms/{id}", s.authed(s.handleAlarm()))
	mux.Handle("POST /api/v1/alarms/{id}/responses", s.authed(s.handleAlarmResponse()))
	mux.Handle("POST /api/v1/alarms/{id}/end", s.authed(s.handleEndAlarm()))
	mux.Handle("PUT /api/v1/alarms/{id}/escalation", s.authed(s.handleReplaceEscalation()))

	// Auskunft and the audit log (role checks inside the services).
	mux.Handle("POST /api/v1/auskunft/query", s.authed(s.handleAuskunftQuery()))
	mux.Handle("POST /api/v1/auskunft/import", s.authed(s.handleAuskunftImport()))
	mux.Handle("GET /api/v1/audit/verify", s.authed(s.handleAuditVerify()))
	mux.Handle("GET /api/v1/audit/export", s.authed(s.handleAuditExport()))
	mux.Handle("GET /api/v1/audit/flags", s.authed(s.handleAuditFlags()))
	mux.Handle("POST /api/v1/scan/mrz", s.authed(s.handleScanMRZ()))
	mux.Handle("POST /api/v1/scan/plate", s.authed(s.handleScanPlate()))

	// Web Push subscriptions of the calling device.
	mux.Handle("GET /api/v1/push/vapid-key", s.authed(s.handleVAPIDKey()))
	mux.Handle("POST /api/v1/push/subscriptions", s.authed(s.handlePushSubscribe()))
	mux.Handle("DELETE /api/v1/push/subscriptions", s.authed(s.handlePushUnsubscribe()))

	// Encrypted attachments (tus): the blob service authenticates itself
	// and checks membership of the blob's conversation.
	if s.Blobs != nil {
		mux.Handle("/api/v1/blobs/", s.Blobs)
		mux.Handle("/api/v1/blobs", s.Blobs)
	}

	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNotFound)
	}))

	// The browser app (web/dist, embedded): see static.go.
	mux.Handle("/", s.static())
}
