package alarm

import (
	"encoding/json"
	"testing"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// FuzzRaiseRequest feeds arbitrary request bodies through the JSON
// decoding and validation a raise gets before it touches any state: no
// panic, and whatever passes is within the bounds the service relies on.
func FuzzRaiseRequest(f *testing.F) {
	f.Add([]byte(`{"client_id":"a","envelopes":[{"conv_id":"c","client_id":"b","epoch":1,"payload":"eA=="}],"escalation":{"conv_id":"e","client_id":"c","payload":"eA=="}}`))
	f.Add([]byte(`{"client_id":"a","envelopes":[{"conv_id":"c","client_id":"b","payload":"eA=="},{"conv_id":"c","client_id":"b","payload":"eA=="}]}`))
	f.Add([]byte(`{"client_id":"","envelopes":null}`))
	f.Add([]byte(`{"client_id":"a","envelopes":[{"conv_id":"c","client_id":"b","epoch":-1,"payload":""}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.RaiseAlarmRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		err := CheckRaise(&req)
		if err != nil {
			if c := wache.ErrorCode(err); c != wache.EINVALID && c != wache.ETOOLARGE {
				t.Fatalf("code %s for bad input", c)
			}
			return
		}
		if !validClientID(req.ClientID) || len(req.Envelopes) == 0 || len(req.Envelopes) > MaxEnvelopes {
			t.Fatalf("accepted %+v", req)
		}
		convs := map[string]bool{}
		for _, e := range append(req.Envelopes, ptrOr(req.Escalation)...) {
			if convs[e.ConvID] || len(e.Payload) == 0 || len(e.Payload) > wache.MaxPayload || e.Epoch < 0 || !validClientID(e.ClientID) {
				t.Fatalf("accepted envelope %+v", e)
			}
			convs[e.ConvID] = true
		}
	})
}

func ptrOr(e *api.AlarmEnvelope) []api.AlarmEnvelope {
	if e == nil {
		return nil
	}
	return []api.AlarmEnvelope{*e}
}

// FuzzResponse: any response body is either refused as EINVALID or has a
// known answer and an ETA in range.
func FuzzResponse(f *testing.F) {
	f.Add([]byte(`{"response":"coming","eta_s":120}`))
	f.Add([]byte(`{"response":"cannot","eta_s":5}`))
	f.Add([]byte(`{"response":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.AlarmResponseRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		err := checkResponse(req)
		if err != nil {
			if wache.ErrorCode(err) != wache.EINVALID {
				t.Fatalf("code %s", wache.ErrorCode(err))
			}
			return
		}
		if (req.Response != api.ResponseComing && req.Response != api.ResponseCannot) || req.ETASeconds < 0 || req.ETASeconds > MaxETASeconds {
			t.Fatalf("accepted %+v", req)
		}
	})
}
