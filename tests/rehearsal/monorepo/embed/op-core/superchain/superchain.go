// Package superchain embeds superchain-configs.zip, generated (gitignored) from the
// superchain-registry submodule by `just build-superchain-go`; the committed
// superchain-configs.zip.sha256 is the digest of its content (sorted entry names and
// bytes), checked by Check.
package superchain

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	_ "embed"
)

//go:embed superchain-configs.zip
var configsZip []byte

//go:embed superchain-configs.zip.sha256
var configsSum string

// Check verifies the embedded bundle and names the chains it carries.
func Check() (string, error) {
	r, err := zip.NewReader(bytes.NewReader(configsZip), int64(len(configsZip)))
	if err != nil {
		return "", fmt.Errorf("not a zip archive: %v", err)
	}
	files := map[string][]byte{}
	names := []string{}
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", err
		}
		files[f.Name] = data
		names = append(names, f.Name)
	}
	sort.Strings(names)
	h := sha256.New()
	chains := []string{}
	for _, n := range names {
		h.Write([]byte(n + "\x00"))
		h.Write(files[n])
		h.Write([]byte{0})
		if strings.HasSuffix(n, ".toml") {
			chains = append(chains, strings.TrimSuffix(n[strings.LastIndex(n, "/")+1:], ".toml"))
		}
	}
	want := strings.Fields(configsSum)
	got := hex.EncodeToString(h.Sum(nil))
	if len(want) == 0 || want[0] != got {
		return "", fmt.Errorf("sha256 %s, want %s", got, strings.Join(want, ""))
	}
	return strings.Join(chains, ","), nil
}
