package server

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wache/wache"
)

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"header", map[string]string{"Authorization": "Bearer wch_abc"}, "wch_abc"},
		{"not bearer", map[string]string{"Authorization": "Basic eA=="}, ""},
		{"browser subprotocol", map[string]string{"Sec-WebSocket-Protocol": "wache.v1, wache.bearer.wch_xyz"}, "wch_xyz"},
		{"header wins", map[string]string{"Authorization": "Bearer wch_a", "Sec-WebSocket-Protocol": "wache.bearer.wch_b"}, "wch_a"},
		{"none", nil, ""},
	} {
		r := httptest.NewRequest("GET", "/api/v1/ws?token=wch_never_from_url", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := bearer(r); got != tc.want {
			t.Errorf("%s: bearer = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	for code, want := range map[string]int{
		wache.EINVALID: 400, wache.EUNAUTHORIZED: 401, wache.EREVOKED: 401, wache.EFORBIDDEN: 403,
		wache.ENOTFOUND: 404, wache.ECONFLICT: 409, wache.EEXPIRED: 410, wache.ETOOLARGE: 413,
		wache.ERATELIMIT: 429, wache.EINTERNAL: 500, wache.EUNIMPLEMENTED: 501, wache.EUNAVAILABLE: 503,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestIPLimiter(t *testing.T) {
	l := newIPLimiter(0.001, 3, time.Hour)
	for i := 0; i < 3; i++ {
		if !l.allow("10.0.0.1") {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	if l.allow("10.0.0.1") {
		t.Fatal("request beyond the burst allowed")
	}
	if !l.allow("10.0.0.2") {
		t.Fatal("another address shares the bucket")
	}
}
