//go:build !linux

package audit

// prefetch does nothing where the kernel cannot be advised to read ahead.
func prefetch(string) {}
