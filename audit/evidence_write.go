package audit

import (
	"archive/zip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IsZipName reports whether out names a zip file rather than a folder.
func IsZipName(out string) bool { return strings.EqualFold(filepath.Ext(out), ".zip") }

// WriteEvidence writes files (from Evidence.Files) to out: a zip file when
// out ends in ".zip", else a folder. Nothing is overwritten: a zip must not
// exist yet, a folder must not exist or be empty, and every file is
// created new. On failure what was written is removed again. Files are
// mode 0600 and folders 0700, as the log itself: a bundle names people.
func WriteEvidence(out string, files map[string][]byte, modTime time.Time) error {
	if IsZipName(out) {
		return writeEvidenceZip(out, files, modTime)
	}
	return writeEvidenceDir(out, files)
}

func writeEvidenceZip(out string, files map[string][]byte, modTime time.Time) (err error) {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: name a new file, nothing was overwritten", out)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(out) // only the file this call created
		}
	}()
	zw := zip.NewWriter(f)
	for _, name := range sortedKeys(files) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modTime.UTC()})
		if err != nil {
			return err
		}
		if _, err := w.Write(files[name]); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Sync()
}

func writeEvidenceDir(out string, files map[string][]byte) (err error) {
	created := false
	switch entries, rerr := os.ReadDir(out); {
	case errors.Is(rerr, fs.ErrNotExist):
		if err := os.Mkdir(out, 0o700); err != nil {
			return err
		}
		created = true
	case rerr != nil:
		return rerr
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: name a new or empty folder, nothing was overwritten", out)
	}
	var made []string // files and folders this call created, in order
	defer func() {
		if err == nil {
			return
		}
		for i := len(made) - 1; i >= 0; i-- {
			_ = os.Remove(made[i]) // only what this call created
		}
		if created {
			_ = os.Remove(out)
		}
	}()
	for _, name := range sortedKeys(files) {
		path := filepath.Join(out, filepath.FromSlash(name))
		if dir := filepath.Dir(path); dir != filepath.Clean(out) {
			if err := os.Mkdir(dir, 0o700); err == nil {
				made = append(made, dir)
			} else if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		made = append(made, path)
		_, werr := f.Write(files[name])
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}
