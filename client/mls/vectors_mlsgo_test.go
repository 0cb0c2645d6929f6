package mls

// Engine-specific part of the RFC 9420 vector tests: how to build an engine
// holding a vector's KeyPackage private keys, and the primitive checks for
// files the Engine interface cannot express. Replacing the MLS library means
// replacing this file.

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
)

// vectorEngine returns an engine whose only KeyPackage is the vector's,
// with its private keys, admitting non-Wache credentials.
func vectorEngine(id Identity, keyPackageMsg, initPriv, encPriv []byte, psks map[string][]byte) (Engine, error) {
	if len(keyPackageMsg) < 4 {
		return nil, fmt.Errorf("key package too short")
	}
	st, err := json.Marshal(engineState{
		Version:     stateVersion,
		Identity:    mustCred(id),
		SigKey:      []byte(id.SigningKey.Public().(ed25519.PublicKey)),
		KeyPackages: []keyPackageState{{KeyPackage: keyPackageMsg[4:], InitPriv: initPriv, EncPriv: encPriv}},
	})
	if err != nil {
		return nil, err
	}
	return LoadEngine(id, st, Options{testVectors: true, testPSKs: psks})
}

func mustCred(id Identity) string {
	c, err := id.CredentialIdentity()
	if err != nil {
		panic(err)
	}
	return c
}
