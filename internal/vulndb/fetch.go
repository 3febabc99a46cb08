package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// defaultClient fetches feeds when the caller gives no client. The
// timeout covers the whole transfer of the largest feed on a slow link.
var defaultClient = &http.Client{Timeout: 10 * time.Minute}

// errTooLarge is returned for a download past its limit.
var errTooLarge = errors.New("larger than the download limit")

// download fetches rawURL into a temporary file and returns its name; the
// caller removes it. It refuses bodies over max bytes, whether the server
// announces the length or not.
func download(ctx context.Context, client *http.Client, rawURL string, max int64) (string, error) {
	if client == nil {
		client = defaultClient
	}
	name := sourceName(rawURL) // never echo credentials in errors
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", name, redact(err))
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", name, redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch %s: status %s", name, resp.Status)
	}
	if resp.ContentLength > max {
		return "", fmt.Errorf("fetch %s: %d bytes: %w", name, resp.ContentLength, errTooLarge)
	}

	f, err := os.CreateTemp("", "breakwater-vulndb-*")
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, max+1))
	if err == nil && n > max {
		err = errTooLarge
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("fetch %s: %w", name, err)
	}
	return f.Name(), nil
}

// redact drops the URL from a *url.Error, which would repeat any
// credentials or tokens the URL carries.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
