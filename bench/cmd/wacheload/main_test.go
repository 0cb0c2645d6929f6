package main

import (
	"context"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "usage: wacheload"},
		{[]string{"--devices", "0"}, 2, "--devices"},
		{[]string{"--server", "http://10.1.2.3:8080", "--data", "x", "--duration", "1s"}, 1, "not a loopback"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb strings.Builder
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, errb.String(), tt.code, tt.want)
			}
		})
	}
}
