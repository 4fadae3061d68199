package caep

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"
)

// BenchmarkSignSET measures one attempt's SET: claims, RS256 signature
// with a 2048-bit key, compact serialization.
func BenchmarkSignSET(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	sub := subjectID{Format: "email", Email: "alice@example.com"}
	cl := claims{Iss: "https://ulc.test", Aud: "https://acme.okta.com", Txn: "t", SubID: sub,
		Events: map[string]sessionRevoked{EventSessionRevoked: {Subject: eventSubject{User: sub}, InitiatingEntity: "admin",
			ReasonAdmin: map[string]string{"en": defaultReason}, EventTimestamp: time.Now().Unix()}}}
	b.ReportAllocs()
	for b.Loop() {
		cl.Jti = "x"
		if _, err := sign(key, "k1", cl); err != nil {
			b.Fatal(err)
		}
	}
}
