package api

import (
	_ "embed"
	"net/http"

	"breakwater/internal/auth"
)

// openAPIDoc is the OpenAPI 3.1 description of every route, written by
// hand; a test keeps it and the route table in step.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI document.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// openAPI serves the document to anyone: it describes the API, no data
// and no secret, and clients need it before they have credentials.
func (h *handler) openAPI(r *http.Request, _ auth.Principal) (int, any, error) {
	return http.StatusOK, rawJSON(openAPIDoc), nil
}

// rawJSON is JSON written as it is.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }
