package observe

import _ "embed"

// StatusPage is the live status page answered for GET of a location with
// the status_page directive: one self-contained HTML document, with its
// styles and script inline, that asks the same location for
// "?format=json" every second and draws the snapshots it gets back.
//
//go:embed statuspage.html
var StatusPage []byte
