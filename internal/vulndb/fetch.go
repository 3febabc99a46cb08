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

// ErrNotModified is returned by Import when the server says a feed has
// not changed since WithIfModifiedSince's time; the source is untouched.
var ErrNotModified = errors.New("feed not modified")

// fetched is a downloaded feed in a temporary file.
type fetched struct {
	path string
	// modified is the server's Last-Modified, zero if it gave none.
	modified time.Time
}

// download fetches rawURL into a temporary file, which the caller
// removes. It refuses bodies over max bytes, whether the server announces
// the length or not. A non-zero since asks only for a newer feed.
func download(ctx context.Context, client *http.Client, rawURL string, max int64, since time.Time) (fetched, error) {
	if client == nil {
		client = defaultClient
	}
	name := sourceName(rawURL) // never echo credentials in errors
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fetched{}, fmt.Errorf("fetch %s: %w", name, redact(err))
	}
	if !since.IsZero() {
		req.Header.Set("If-Modified-Since", since.UTC().Format(http.TimeFormat))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fetched{}, fmt.Errorf("fetch %s: %w", name, redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && !since.IsZero() {
		return fetched{}, fmt.Errorf("fetch %s: %w", name, ErrNotModified)
	}
	if resp.StatusCode != http.StatusOK {
		return fetched{}, fmt.Errorf("fetch %s: status %s", name, resp.Status)
	}
	if resp.ContentLength > max {
		return fetched{}, fmt.Errorf("fetch %s: %d bytes: %w", name, resp.ContentLength, errTooLarge)
	}
	modified, _ := http.ParseTime(resp.Header.Get("Last-Modified"))

	f, err := os.CreateTemp("", "breakwater-vulndb-*")
	if err != nil {
		return fetched{}, fmt.Errorf("fetch %s: %w", name, err)
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
		return fetched{}, fmt.Errorf("fetch %s: %w", name, err)
	}
	return fetched{path: f.Name(), modified: modified.UTC()}, nil
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
